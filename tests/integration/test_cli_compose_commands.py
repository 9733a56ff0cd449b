"""Compose's everyday commands and flags through the real CLI: version,
kill, wait, top, ps AGENT/--services/--filter, config --profiles, the
MESH_COMPOSE_* variables, and no escape codes without colour."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, _env, wait_until

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

SLEEPER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(os.environ["MESH_COMPOSE_AGENT"], "up", flush=True)
time.sleep(3600)
"""
QUICK = "import sys; print('quick ran'); sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)\n"


@pytest.fixture
def project(tmp_path: Path):
    proj = ProjectDir(tmp_path)
    yield proj
    proj.cli("down", "-t", "5", timeout=60)
    proj.cleanup()


def state_of(project: ProjectDir, name: str) -> dict:
    rows = [json.loads(line) for line in project.cli("ps", "-a", "--format", "json").stdout.splitlines()]
    return next(row for row in rows if row["Name"] == name)


def test_version_pretty_and_json(project: ProjectDir) -> None:
    pretty = project.cli("version")
    info = json.loads(project.cli("version", "--format", "json").stdout)
    assert pretty.returncode == 0 and f"mesh-compose version {info['version']}" in pretty.stdout
    assert info["python"] == ".".join(map(str, sys.version_info[:3])) and info["platform"]
    assert project.cli("--version").stdout.strip() == f"mesh-compose {info['version']}"


@posix_only
def test_kill_wait_top_and_ps_selection(project: ProjectDir) -> None:
    project.script("sleeper.py", SLEEPER)
    project.script("quick.py", QUICK)
    project.compose({
        "api": {"script": "sleeper.py", "restart": "no"},
        "keeper": {"script": "sleeper.py", "restart": "always", "profiles": ["extra"]},
        "job": {"script": "quick.py", "args": ["7"], "profiles": ["batch"]},
    })
    up = project.cli("--profile", "extra", "up", "-d", "api", "keeper", timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr

    top = project.cli("top", "api")
    assert top.returncode == 0 and top.stdout.splitlines()[0] == "api"
    assert "PID" in top.stdout and "sleeper.py" in top.stdout
    api_pid = state_of(project, "api")["Pid"]
    assert str(api_pid) in top.stdout

    # ps AGENT, --services, --filter
    assert [json.loads(line)["Name"] for line in project.cli("ps", "api", "--format", "json").stdout.splitlines()] == ["api"]
    assert sorted(project.cli("ps", "--services").stdout.split()) == ["api", "keeper"]
    bad = project.cli("ps", "--filter", "colour=red")
    assert bad.returncode == 2 and "status=STATUS" in bad.stderr and "Traceback" not in bad.stderr

    # kill: a signal, not a user stop: `always` restarts, `no` stays dead.
    keeper_pid = state_of(project, "keeper")["Pid"]
    killed = project.cli("kill", "-s", "SIGKILL", "api", "keeper")
    assert killed.returncode == 0 and "api: sent SIGKILL" in killed.stdout
    wait_until(lambda: state_of(project, "keeper")["Restarts"] >= 1
               and state_of(project, "keeper")["Pid"] not in (None, keeper_pid), 30, "keeper restarted")
    waited = project.cli("wait", "api", timeout=60)
    assert waited.returncode == 137 or waited.returncode == (-9 & 0xFF), waited.stdout + waited.stderr
    assert waited.stdout.strip() == str(state_of(project, "api")["ExitCode"])
    assert project.cli("--profile", "extra", "ps", "--filter", "status=running", "-q").stdout.split() == ["keeper"]


def test_wait_returns_the_first_agents_exit_code(project: ProjectDir) -> None:
    project.script("quick.py", QUICK)
    project.script("sleeper.py", SLEEPER)
    project.compose({"job": {"script": "quick.py", "args": ["7"]}, "api": {"script": "sleeper.py"}})
    assert project.cli("up", "-d", "--wait-timeout", "5", timeout=120).returncode in (0, 1)
    waited = project.cli("wait", "job", timeout=60)
    assert waited.returncode == 7 and waited.stdout.strip() == "7"
    timed = project.cli("wait", "api", "--timeout", "0.5", timeout=60)
    assert timed.returncode == 1 and "timed out" in timed.stderr


def test_config_profiles_and_compose_variables(project: ProjectDir, tmp_path: Path) -> None:
    project.script("quick.py", QUICK)
    project.compose({"a": {"script": "quick.py"}, "b": {"script": "quick.py", "profiles": ["debug", "tools"]},
                     "c": {"script": "quick.py", "profiles": ["batch"]}}, name="vars")
    assert project.cli("config", "--profiles").stdout.split() == ["batch", "debug", "tools"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    (tmp_path / "mesh-compose.yaml").rename(other / "main.yaml")
    (other / "quick.py").write_text(QUICK)  # paths are relative to the file, and the loader checks them
    env = {**_env(), "MESH_COMPOSE_FILE": str(other / "main.yaml"), "MESH_COMPOSE_PROFILES": "debug,batch",
           "MESH_COMPOSE_PROJECT_NAME": "fromvar"}

    def cli(*args: str) -> str:
        import subprocess

        done = subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert cli("config", "--services").split() == ["a", "b", "c"]
    assert json.loads(cli("config", "--format", "json"))["name"] == "fromvar"
    # Flags win over the variables.
    assert cli("--profile", "tools", "config", "--services").split() == ["a", "b"]
    assert json.loads(cli("-p", "flagged", "config", "--format", "json"))["name"] == "flagged"


def test_no_color_means_no_escape_codes_even_when_forced(project: ProjectDir) -> None:
    """rich's no_color still emitted bold and dim: --no-color and NO_COLOR must emit none."""
    import subprocess

    project.script("quick.py", QUICK)
    project.compose({"job": {"script": "quick.py"}})
    for extra, variables in ((["--no-color"], {"FORCE_COLOR": "1"}), ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"})):
        env = {**_env(), **variables}
        env.pop("NO_COLOR") if "NO_COLOR" not in variables else None
        for command in (["env"], ["up"], ["logs"]):
            done = subprocess.run([sys.executable, "-m", "meshcompose", *extra, *command], cwd=project.root,
                                  env=env, capture_output=True, text=True, timeout=120)
            assert "\x1b" not in done.stdout + done.stderr, (command, done.stdout + done.stderr)
            assert done.returncode == 0, done.stdout + done.stderr
    # FORCE_COLOR alone does colour (the check above can fail).
    forced = subprocess.run([sys.executable, "-m", "meshcompose", "env"], cwd=project.root,
                            env={**{k: v for k, v in _env().items() if k != "NO_COLOR"}, "FORCE_COLOR": "1"},
                            capture_output=True, text=True, timeout=60)
    assert "\x1b[" in forced.stdout


def test_env_shows_its_table_when_the_python_is_too_old(project: ProjectDir) -> None:
    project.script("quick.py", QUICK)
    project.compose({"job": {"script": "quick.py"}}, python={"interpreter": sys.executable, "requires": ">=99"})
    done = project.cli("env")
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert "job" in done.stdout and "unusable" in done.stdout and ">=99" in done.stdout
    assert "agent job requires Python >=99" in done.stderr  # the reason, worded for one agent
    row = json.loads(project.cli("env", "--format", "json").stdout)[0]
    assert row["unusable"].startswith(f"Python {sys.version_info[0]}.") and row["agent"] == "job"


SHOW = """
import os, sys
print("cwd", os.getcwd())
print("agent", os.environ.get("MESH_COMPOSE_AGENT"), os.environ.get("GREETING"), os.environ.get("EXTRA"))
print("path0", os.environ["PATH"].split(os.pathsep)[0])
sys.exit(int(os.environ.get("CODE", "0")))
"""


@posix_only
def test_run_a_command_in_the_agents_environment(project: ProjectDir) -> None:
    project.script("show.py", SHOW)
    project.script("sleeper.py", SLEEPER)
    (project.root / "work").mkdir()
    project.compose({
        "db": {"script": "sleeper.py"},
        "api": {"script": "show.py", "working_dir": "work", "environment": {"GREETING": "hi"},
                "depends_on": ["db"]},
    })
    done = project.cli("run", "--no-deps", "-e", "EXTRA=x", "-e", "CODE=3", "api",
                       "python", str(project.root / "show.py"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"cwd {project.root / 'work'}" in done.stdout and "agent api hi x" in done.stdout
    # `python` is the agent's interpreter: its bin comes first on PATH.
    assert f"path0 {Path(sys.executable).parent}" in done.stdout
    assert project.cli("ps", "-q").stdout.strip() in ("", "no agents running")  # --no-deps started nothing

    missing = project.cli("run", "--no-deps", "api", "no-such-command-here")
    assert missing.returncode == 127 and "command not found: no-such-command-here" in missing.stderr
    unknown = project.cli("run", "nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr and "Traceback" not in unknown.stderr


@posix_only
def test_run_the_agent_once_after_its_dependencies(project: ProjectDir) -> None:
    project.script("show.py", SHOW)
    project.script("sleeper.py", SLEEPER)
    project.compose({
        "db": {"script": "sleeper.py"},
        "api": {"script": "show.py", "environment": {"CODE": "5"}, "depends_on": ["db"]},
    })
    done = project.cli("run", "api", timeout=120)
    assert done.returncode == 5, done.stdout + done.stderr
    assert f"cwd {project.root}" in done.stdout and "agent api" in done.stdout
    assert project.cli("ps", "-q").stdout.split() == ["db"]  # the dependency keeps running, as compose's


@posix_only
def test_ls_lists_running_projects_and_ignores_stale_entries(project: ProjectDir) -> None:
    import uuid

    from meshcompose.control import index

    name = f"ls-{uuid.uuid4().hex[:8]}"
    project.script("sleeper.py", SLEEPER)
    project.compose({"a": {"script": "sleeper.py"}, "b": {"script": "sleeper.py"}}, name=name)
    # A supervisor that died without tidying up: its entry must not show.
    stale = index.register(f"{name}-dead", project.root / "gone", [], 2 ** 22 + 12345, 1.0)
    assert project.cli("up", "-d", timeout=120).returncode == 0
    listed = {row["Name"]: row for row in json.loads(project.cli("ls", "--format", "json").stdout)}
    assert listed[name]["Status"] == "running(2)" and listed[name]["ConfigFiles"].endswith("mesh-compose.yaml")
    assert f"{name}-dead" not in listed and not stale.exists()
    table = project.cli("ls").stdout
    assert table.splitlines()[0].split() == ["NAME", "STATUS", "CONFIG", "FILES"] and f"{name} " in table
    assert name in project.cli("ls", "-q").stdout.split()
    assert project.cli("down", timeout=60).returncode == 0
    assert name not in project.cli("ls", "-q").stdout.split()


def kill_and_await_restart(project: ProjectDir, name: str) -> None:
    pid = state_of(project, name)["Pid"]
    assert project.cli("kill", name).returncode == 0
    wait_until(lambda: state_of(project, name)["Pid"] not in (None, pid), 30, f"{name} restarted")


def written(log: Path, name: str) -> list[dict]:
    return [event for event in map(json.loads, log.read_text().splitlines()) if event["service"] == name]


def has_kill(actions: list[str]) -> bool:
    """A whole kill of a restarting agent: it died, was restarted, started."""
    return any(actions[at:at + 3] == ["die", "restart", "start"] for at in range(len(actions)))


@posix_only
def test_events_stream_lifecycle_changes_until_the_project_ends(project: ProjectDir) -> None:
    from meshcompose.app.events import EVENTS_FILE_NAME
    from meshcompose.runtime.events import EVENTS_FILE_NAME as WRITTEN

    assert EVENTS_FILE_NAME == WRITTEN
    project.script("sleeper.py", SLEEPER)
    project.compose({"a": {"script": "sleeper.py", "restart": "on-failure"}, "b": {"script": "sleeper.py"}})
    assert project.cli("up", "-d", timeout=120).returncode == 0
    log = project.root / ".mesh-compose" / "t" / EVENTS_FILE_NAME
    wait_until(log.exists, 10, "the event log")
    stream = project.start("events", "--json", "a")

    def shown() -> list[dict]:
        return [json.loads(line) for line in stream.output.splitlines() if line.startswith("{")]

    # `events` follows the log from where it ends when the command has started, a moment this test
    # cannot see (a loaded machine may start it after a first kill, or in the middle of one): `a` is
    # killed until the stream shows a whole kill, which then happened while it followed.
    for _ in range(4):
        kill_and_await_restart(project, "a")
        if shown():  # it follows: let it show what the log has (it reads every 0.2 s)
            wait_until(lambda: shown()[-1] == written(log, "a")[-1], 10, "the stream to show the log's last event of a")
        if has_kill([event["action"] for event in shown()]):
            break
    assert project.cli("down", timeout=60).returncode == 0
    assert stream.wait(30) == 0  # it ends with the project
    events = shown()
    actions = [event["action"] for event in events]
    assert has_kill(actions), (actions, stream.output)
    # Every event of `a` since it began following, in the order written, none from before (the
    # first start was written before `events` ran), and only the agent asked for.
    everything = written(log, "a")
    assert 0 < len(events) < len(everything) and events == everything[-len(events):], (events, everything)
    assert {event["service"] for event in events} == {"a"}
    died = events[actions.index("die")]
    assert died["type"] == "agent" and died["attributes"]["exitCode"] is not None and died["time"].endswith("Z")
    assert "die" in actions[actions.index("start", actions.index("die")):]  # `down` stopped it


@posix_only
def test_up_remove_orphans_stops_agents_no_longer_in_the_file(project: ProjectDir) -> None:
    project.script("sleeper.py", SLEEPER)
    project.compose({"a": {"script": "sleeper.py"}, "b": {"script": "sleeper.py"},
                     "c": {"script": "sleeper.py", "profiles": ["extra"]}})
    assert project.cli("--profile", "extra", "up", "-d", timeout=120).returncode == 0
    project.compose({"a": {"script": "sleeper.py"}, "c": {"script": "sleeper.py", "profiles": ["extra"]}})
    done = project.cli("up", "-d", "--remove-orphans", "a", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped orphans (no longer in the file): b" in done.stderr
    # c is defined (under a profile not active now): not an orphan.
    assert sorted(project.cli("ps", "-q").stdout.split()) == ["a", "c"]
