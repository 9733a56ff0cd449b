"""A script named like a module its interpreter imports (`wave.py` shadows the
standard library's `wave`; the SDK's own `h2.py` case is the same) is said once,
at `config` and at `up`; a script with its own name is not."""

from __future__ import annotations

import subprocess
import sys

from cli_helpers import ok

SHADOW = "its script wave.py is named like the module 'wave'"


def test_config_and_up_warn_once_about_a_shadowing_script(project):
    project.script("wave.py", "import time\ntime.sleep(60)\n")
    project.script("own_name_agent.py", "import time\ntime.sleep(60)\n")
    project.compose({"shadow": {"script": "wave.py"}, "fine": {"script": "own_name_agent.py"}})
    checked = ok(project.cli("config", "-q"))
    assert checked.stderr.count(SHADOW) == 1 and "own_name_agent" not in checked.stderr
    run = project.start("up")
    run.wait_for("fine")
    output = run.wait_for(lambda text: "shadow" in text and "started" in text)
    assert output.count(SHADOW) == 1
    run.interrupt()
    assert run.wait(30) in (0, 130)


def test_the_check_asks_the_agents_own_interpreter(project):
    """`wave` is in every CPython's standard library; a module only one
    interpreter has is shadowed only for the agent that runs with it."""
    venv = project.root / ".venv-extra"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "only_in_extra.py").write_text("")
    project.script("only_in_extra.py", "import time\ntime.sleep(60)\n")
    project.script("agent_dir/only_in_extra.py", "import time\ntime.sleep(60)\n")
    project.compose({"inside": {"script": "only_in_extra.py", "interpreter": ".venv-extra"},
                     "outside": {"script": "agent_dir/only_in_extra.py"}})
    checked = ok(project.cli("config", "-q"))
    assert checked.stderr.count("named like the module 'only_in_extra'") == 1
    assert "agent 'inside'" in checked.stderr and "agent 'outside'" not in checked.stderr


def test_replicas_of_a_shadowing_script_are_warned_about_once(project):
    project.script("wave.py", "import os, time\nprint('replica', os.environ['MESH_COMPOSE_REPLICA'], flush=True)\n"
                              "time.sleep(60)\n")
    project.compose({"shadow": {"script": "wave.py", "replicas": 3}})
    run = project.start("up")
    output = run.wait_for(lambda text: all(f"replica {n}" in text for n in (1, 2, 3)))
    assert output.count(SHADOW) == 1, output
    assert "shadow-1" in output.split(SHADOW)[0].splitlines()[-1]  # the warning names the replicas
    run.interrupt()
    assert run.wait(30) in (0, 130)


def test_a_watch_rebuild_does_not_warn_again(project):
    project.script("wave.py", "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(60)\n")
    (project.root / "requirements.txt").write_text("# nothing yet\n")
    project.compose({"shadow": {"script": "wave.py", "stop_grace_period": "5s", "develop": {
        "watch": [{"path": "requirements.txt", "action": "rebuild"}]}}})
    run = project.start("watch")
    run.wait_for("watching")
    first = run.wait_for("| pid ")
    assert first.count(SHADOW) == 1
    (project.root / "requirements.txt").write_text("# still nothing\n")
    output = run.wait_for(lambda text: text.count("| pid ") >= 2, timeout=60)
    assert "rebuilding: requirements.txt changed" in output
    assert output.count(SHADOW) == 1, output
    run.interrupt()
    assert run.wait(30) in (0, 130)
