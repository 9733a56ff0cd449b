"""Watch mode with real file edits on real agents, through the real CLI.

Each test waits for conditions (a line in the output, a pid in the state
file), never for time. Where a test proves that something did NOT restart,
it ends with a sentinel edit that must restart exactly once: awatch hands
over changes in order, so a stray restart would have come before it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from cli_helpers import ProjectDir, Running, pid_alive, wait_until

pytestmark = pytest.mark.timeout(180)

AGENT = """\
import os, time
print("VERSION {version} pid", os.getpid(), flush=True)
time.sleep(3600)
"""


def agent_code(version: object) -> str:
    return AGENT.format(version=version)


def pid_of(output: str, version: object) -> int:
    found = re.findall(rf"VERSION {version} pid (\d+)", output)
    assert found, output
    return int(found[-1])


def restarts(output: str, agent: str = "hello") -> list[str]:
    return re.findall(rf"^{agent}\s+⟳ restarting: (.*)$", output, re.M)


def started(project: ProjectDir, agents: dict, *extra: str) -> Running:
    project.compose(agents)
    run = project.start("watch", *extra)
    run.wait_for("watching")
    return run


def hello(project: ProjectDir, **more: object) -> dict:
    project.script("app/agent.py", agent_code(1))
    return {"hello": {"script": "app/agent.py", "stop_grace_period": "5s", **more}}


def test_an_edit_restarts_the_agent_with_the_new_code(project: ProjectDir) -> None:
    run = started(project, hello(project))
    old = pid_of(run.wait_for("VERSION 1 pid"), 1)
    project.script("app/agent.py", agent_code(2))
    new = pid_of(run.wait_for("VERSION 2 pid"), 2)
    assert new != old and not pid_alive(old)
    assert restarts(run.output) == ["agent.py changed"]
    checkers = [child for child in psutil.Process(run.proc.pid).children(recursive=True)
                if "-I" in child.cmdline() and "-S" in child.cmdline()]
    assert len(checkers) == 1  # the interpreter's compile checker
    run.interrupt()
    assert run.wait() == 0
    wait_until(lambda: not any(pid_alive(c.pid) for c in checkers) and not pid_alive(new), 15, "nothing left")


def test_a_syntax_error_keeps_the_running_agent_and_the_fix_restarts_it(project: ProjectDir) -> None:
    run = started(project, hello(project))
    old = pid_of(run.wait_for("VERSION 1 pid"), 1)
    project.script("app/agent.py", "import os\ndef broken(:\n    pass\n")
    text = run.wait_for("not restarting")
    line = next(line for line in text.splitlines() if "not restarting" in line)
    assert f"the running version stays (pid {old})" in line
    assert re.search(r"app/agent\.py:2:\d+: SyntaxError", line), line
    assert pid_alive(old) and restarts(text) == []
    project.script("app/agent.py", agent_code(3))
    new = pid_of(run.wait_for("VERSION 3 pid"), 3)
    assert new != old and restarts(run.output) == ["agent.py changed"]


def test_a_burst_of_twenty_writes_restarts_once(project: ProjectDir) -> None:
    run = started(project, hello(project))
    run.wait_for("VERSION 1 pid")
    for index in range(20):
        (project.root / "app" / f"module_{index}.py").write_text(f"VALUE = {index}\n")
    run.wait_for(lambda out: out.count("VERSION 1 pid") == 2)  # restarted once, with the same code
    project.script("app/agent.py", agent_code(2))  # the sentinel
    run.wait_for("VERSION 2 pid")
    assert restarts(run.output) == ["module_0.py and 19 more changed", "agent.py changed"]


def test_ignored_paths_restart_nothing(project: ProjectDir) -> None:
    agents = hello(project, develop={"watch": [{"path": "app", "ignore": ["generated/**", "*.log"]}]})
    run = started(project, agents)
    old = pid_of(run.wait_for("VERSION 1 pid"), 1)
    for relative in (".venv/a.py", "venv/b.py", "__pycache__/c.py", ".git/HEAD", "node_modules/d.js",
                     ".mesh-compose/e.json", "generated/f.py", "generated/deep/g.py", "run.log", "agent.py~"):
        path = project.root / "app" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    project.script("app/agent.py", agent_code(2))  # the sentinel
    run.wait_for("VERSION 2 pid")
    assert restarts(run.output) == ["agent.py changed"]
    assert not pid_alive(old)


def test_the_default_watches_only_python_files(project: ProjectDir) -> None:
    run = started(project, hello(project))
    run.wait_for("VERSION 1 pid")
    (project.root / "app" / "notes.txt").write_text("not code\n")
    project.script("app/agent.py", agent_code(2))  # the sentinel
    run.wait_for("VERSION 2 pid")
    assert restarts(run.output) == ["agent.py changed"]


def test_a_dependent_without_restart_true_keeps_running(project: ProjectDir) -> None:
    project.script("other/client.py", AGENT.replace("VERSION {version}", "CLIENT"))
    agents = {**hello(project), "client": {"script": "other/client.py", "depends_on": ["hello"]}}
    run = started(project, agents)
    text = run.wait_for(lambda out: "CLIENT pid" in out and "VERSION 1 pid" in out)
    client = int(re.findall(r"CLIENT pid (\d+)", text)[-1])
    project.script("app/agent.py", agent_code(2))
    run.wait_for("VERSION 2 pid")
    assert pid_alive(client) and restarts(run.output, "client") == []


def test_a_dependent_with_restart_true_follows_its_dependency(project: ProjectDir) -> None:
    project.script("other/client.py", AGENT.replace("VERSION {version}", "CLIENT"))
    agents = {**hello(project), "client": {"script": "other/client.py",
                                           "depends_on": {"hello": {"condition": "started", "restart": True}}}}
    run = started(project, agents)
    text = run.wait_for(lambda out: "CLIENT pid" in out and "VERSION 1 pid" in out)
    client = int(re.findall(r"CLIENT pid (\d+)", text)[-1])
    project.script("app/agent.py", agent_code(2))
    text = run.wait_for(lambda out: "VERSION 2 pid" in out and len(re.findall(r"CLIENT pid", out)) == 2)
    assert not pid_alive(client)
    # The dependent starts again only after its dependency runs the new code
    # (`condition: started`: once its new process exists; which of the two
    # prints first after that is up to them, so the supervisor's own lines tell).
    new_hello = int(re.findall(r"VERSION 2 pid (\d+)", text)[-1])
    hello_started = text.index(f"started (pid {new_hello}")
    client_started = [found.start() for found in re.finditer(r"client\s*(?:⇒|=>) started \(pid", text)][-1]
    assert hello_started < client_started, text


def test_up_detached_with_watch_restarts_in_the_supervisor(project: ProjectDir) -> None:
    project.compose(hello(project))
    result = project.cli("up", "-d", "--watch")
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        state = project.root / ".mesh-compose" / "t" / "state.json"

        def pid() -> int | None:
            try:
                return json.loads(state.read_text())["agents"]["hello"].get("pid")
            except (OSError, ValueError, KeyError):
                return None

        wait_until(lambda: pid() is not None, 30, "the agent's pid")
        old = pid()
        wait_until(lambda: "watching" in project.read(".mesh-compose/t/supervisor.log"), 30, "the watcher")
        project.script("app/agent.py", agent_code(2))
        wait_until(lambda: pid() not in (None, old), 30, "a new pid")
        log = project.read(".mesh-compose/t/supervisor.log")
        assert re.search(r"hello ⟳ restarting: agent\.py changed", log), log
        logs = project.cli("logs", "hello")
        assert "VERSION 2 pid" in logs.stdout or wait_until(
            lambda: "VERSION 2 pid" in project.cli("logs", "hello").stdout, 30, "the new version's output") is None
    finally:
        project.cli("down")


def test_rebuild_installs_a_newly_required_package_then_restarts(project: ProjectDir, tmp_path: Path) -> None:
    from wheelmaker import make_wheel

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "watch-tiny", "4.2")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    project.script("app/agent.py", agent_code(1))
    (project.root / "requirements.txt").write_text("# nothing yet\n")
    project.compose({"hello": {
        "script": "app/agent.py", "interpreter": str(venv), "stop_grace_period": "5s",
        "develop": {"watch": [{"path": "app"}, {"path": "requirements.txt", "action": "rebuild"}]},
    }})
    run = project.start("watch", "--install", "--find-links", str(wheels))
    run.wait_for("watching")
    old = pid_of(run.wait_for("VERSION 1 pid"), 1)
    (project.root / "requirements.txt").write_text("watch-tiny  # added\n")
    run.wait_for(lambda out: len(restarts(out)) >= 1)
    project.script("app/agent.py", agent_code("{__import__('watch_tiny').VERSION}").replace(
        'print("VERSION', 'print(f"VERSION'))
    text = run.wait_for("VERSION 4.2 pid", timeout=60)
    assert "rebuilding: requirements.txt changed" in text
    assert restarts(text)[0] == "requirements.txt changed"
    assert not pid_alive(old)
