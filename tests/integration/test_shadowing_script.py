"""A script named like a module its interpreter imports (`wave.py` shadows the
standard library's `wave`; the SDK's own `h2.py` case is the same) is said once,
at `config` and at `up`; a script with its own name is not."""

from __future__ import annotations

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


def test_the_check_asks_the_agents_interpreter(tmp_path):
    import sys

    from meshcompose.model import Agent, RunKind
    from meshcompose.pyenv import shadowing

    agents = [Agent("a", RunKind.SCRIPT, target=str(tmp_path / "wave.py")),
              Agent("b", RunKind.SCRIPT, target=str(tmp_path / "no_module_has_this_name.py"))]
    found = shadowing.warnings(agents, {"a": sys.executable, "b": sys.executable})
    assert len(found) == 1 and found[0].startswith("agent 'a'")
    assert shadowing.warnings(agents, {"a": str(tmp_path / "missing-python")}) == []
