"""A stop always wins, through the real CLI: `down` racing a `restart`, an
`up -d` that recreates changed agents, and a watch reload, each trial ending
with no process left in the project's directory.

`down` comes 0.02..0.16 s after the racer's stop began (the supervisor's log
says `stopping`), spread over the trials: the window in which a restart
could start its agents after the shutdown had stopped the old ones. The
delay chooses the interleaving; nothing waits on it to see a result (the
end is waited for as an event: no process left).
6 trials of each in the normal run, 20 under `-m slow`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cli_helpers import ProjectDir, _env, ok, wait_until

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="POSIX signals")]

AGENTS = 10
# Slow to stop: a restart's stop lasts long enough for a `down` (a CLI of its
# own, which takes a while to start on a loaded machine) to land in it.
AGENT = """
import signal, sys, time
def stop(*_):
    time.sleep(1.5)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
while True:
    time.sleep(3600)
"""
STOPPING = re.compile(r"(⇒|=>) stopping")


def compose(project: ProjectDir, version: int) -> None:
    project.script("agent.py", AGENT)
    project.compose({f"a{index}": {"script": "agent.py", "environment": {"VERSION": str(version)}}
                     for index in range(AGENTS)})


def left_behind(root: Path) -> list[str]:
    """Every process but this one whose working directory is the project's."""
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "cmdline", "status"]):
        info = proc.info
        if proc.pid == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE or not info["cwd"]:
            continue
        if Path(info["cwd"]) == root or root in Path(info["cwd"]).parents:
            found.append(f"pid {proc.pid}: {' '.join(info['cmdline'] or [])[:160]}")
    return found


def stops(project: ProjectDir) -> int:
    """How many `stopping` lines the supervisor has written."""
    return len(STOPPING.findall(project.read(".mesh-compose/t/supervisor.log")))


def racer(project: ProjectDir, kind: str, trial: int) -> subprocess.Popen | None:
    """Begins the operation that starts agents again; None when the supervisor begins it itself."""
    if kind == "watch":
        project.script("agent.py", AGENT + f"\n# edit {trial}\n")
        return None
    if kind == "recreate":
        compose(project, trial + 1)
        args = ["up", "-d"]
    else:
        args = ["restart"]
    return subprocess.Popen([sys.executable, "-m", "meshcompose", *args], cwd=project.root, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def race(project: ProjectDir, kind: str, trials: int) -> None:
    failures = []
    for trial in range(trials):
        compose(project, 0)
        ok(project.cli("up", "-d", *(["--watch"] if kind == "watch" else [])))
        if kind == "watch":
            wait_until(lambda: "watching" in project.read(".mesh-compose/t/supervisor.log"), 30, "the watcher")
        delay = 0.02 + 0.14 * trial / max(trials - 1, 1)
        before = stops(project)
        started = racer(project, kind, trial)
        wait_until(lambda before=before: stops(project) > before, 60, "the racer's stop")
        time.sleep(delay)  # chooses the interleaving; the outcome is waited for below
        down = project.cli("down", timeout=90)
        assert down.returncode == 0 and "Traceback" not in down.stderr, down.stdout + down.stderr
        if started is not None:
            _, err = started.communicate(timeout=90)
            assert "Traceback" not in err, err
        if kind == "recreate":
            # An `up -d` that found the project stopped starts it anew, as it
            # should: the user's next `down` must stop that one.
            ok(project.cli("down", timeout=90))
        try:
            wait_until(lambda: not left_behind(project.root), 20, "every process to end")
        except AssertionError:
            failures.append(f"trial {trial} (down {delay:.2f}s after): {left_behind(project.root)}")
            project.cli("kill")
            try:
                wait_until(lambda: not left_behind(project.root), 20, "the kill")
            except AssertionError:
                for line in left_behind(project.root):
                    psutil.Process(int(line.split()[1].rstrip(":"))).kill()
                raise AssertionError("\n".join(failures)) from None
    assert failures == [], "\n".join(failures)


KINDS = ["restart", "recreate", "watch"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", KINDS)
def test_down_racing_a_start_leaves_no_process(project: ProjectDir, kind: str) -> None:
    race(project, kind, 6)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("kind", KINDS)
def test_down_racing_a_start_leaves_no_process_20_trials(project: ProjectDir, kind: str,
                                                        request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("20 trials each: selected with -m slow")
    race(project, kind, 20)
