"""Watch mode's two figures, through the real CLI (`mesh-compose watch`).

1. Reload latency: from the write of an agent's file to the first line of
   the new process's code, minus the agent's own stop time (from the stop
   signal reaching it to its exit, which the agent measures itself). What
   remains is mesh-compose's part: the batch step, the compile check with
   the agent's interpreter, the stop bookkeeping and the new spawn
   (including the new interpreter's start-up). Goal: at most 300 ms.
2. Idle CPU of the supervisor while it watches N agents (each in its own
   directory) and nothing changes, beside the same project under plain `up`.
   Goal: at most 0.5 % of one core.

    python benchmarks/bench_watch.py [--rounds 10] [--agents 50] [--window 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

AGENT = """\
import os, signal, sys, time
started = time.time()
marks = {marks!r}
with open(marks, "a") as f:
    f.write(f"start {{started}} {{os.getpid()}} {version}\\n")
def stop(signum, frame):
    with open(marks, "a") as f:
        f.write(f"term {{time.time()}}\\n")
    # the agent's own stop work would be here
    with open(marks, "a") as f:
        f.write(f"exit {{time.time()}}\\n")
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(3600)
"""
IDLE = "import time\nwhile True:\n    time.sleep(3600)\n"


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def _start(directory: Path, *args: str) -> subprocess.Popen:
    with open(directory / "supervisor.out", "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "meshcompose", *args], cwd=directory, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env())


def _wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark's project did not get there in time")
        time.sleep(0.01)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _marks(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _spawned_at(root: Path, pid: int) -> float:
    """When the supervisor's spawn of `pid` returned (its `started_at`, in the state file)."""
    state = root / ".mesh-compose" / "state.json"
    found: list[float] = []

    def recorded() -> bool:
        try:
            agent = json.loads(state.read_text())["agents"]["hello"]
        except (OSError, ValueError, KeyError):
            return False
        if agent.get("pid") == pid:
            found.append(float(agent["started_at"]))
        return bool(found)

    _wait(recorded, 10)
    return found[0]


def latency(rounds: int) -> list[tuple[float, float]]:
    """Per round, milliseconds from the write to the new process, minus the
    agent's stop time: (to the process's creation by the supervisor, to the
    first line of the agent's code, which adds its interpreter's start-up)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        marks, script = root / "marks.txt", root / "app" / "agent.py"
        script.parent.mkdir()
        script.write_text(AGENT.format(marks=str(marks), version=0))
        (root / "mesh-compose.yaml").write_text(yaml.safe_dump({
            "name": "bench-watch", "python": {"interpreter": sys.executable},
            "agents": {"hello": {"script": "app/agent.py"}}}))
        proc = _start(root, "watch")
        try:
            _wait(lambda: any(m[0] == "start" for m in _marks(marks)))
            time.sleep(1.0)  # the watcher registers its paths as the agent starts
            results = []
            for version in range(1, rounds + 1):
                before = len(_marks(marks))
                written = time.time()
                script.write_text(AGENT.format(marks=str(marks), version=version))
                _wait(lambda: any(m[0] == "start" and m[3] == str(version) for m in _marks(marks)[before:]))
                new = _marks(marks)[before:]
                term = next(float(m[1]) for m in new if m[0] == "term")
                exited = next(float(m[1]) for m in new if m[0] == "exit")
                began, pid = next((float(m[1]), int(m[2])) for m in new if m[0] == "start")
                created = _spawned_at(root, pid)
                stop = exited - term
                results.append((((created - written) - stop) * 1000, ((began - written) - stop) * 1000))
                time.sleep(0.3)  # let the supervisor settle before the next round
            return results
        finally:
            _stop(proc)


def idle_cpu(agents: int, window: float, watch: bool) -> float:
    """Percent of one core the supervisor used over `window` seconds of nothing happening."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = {}
        for index in range(agents):
            (root / f"agent{index}").mkdir()
            (root / f"agent{index}" / "main.py").write_text(IDLE)
            spec[f"agent{index}"] = {"script": f"agent{index}/main.py"}
        (root / "mesh-compose.yaml").write_text(yaml.safe_dump({
            "name": "bench-idle", "python": {"interpreter": sys.executable}, "agents": spec}))
        proc = _start(root, "watch" if watch else "up")
        try:
            state = root / ".mesh-compose" / "state.json"
            _wait(lambda: state.exists() and state.read_text().count('"running"') >= agents, 120)
            time.sleep(3.0)  # past the start: state writes and flushes settle
            supervisor = psutil.Process(proc.pid)
            before = sum(supervisor.cpu_times()[:2])
            time.sleep(window)
            spent = sum(supervisor.cpu_times()[:2]) - before
            return spent / window * 100
        finally:
            _stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} (a loaded machine makes both figures worse)")
    rounds = latency(args.rounds)
    for index, label in ((0, "to the new process (spawned)"), (1, "to the agent's first line (+ interpreter start-up)")):
        times = [measured[index] for measured in rounds]
        print(f"reload latency {label}, minus the agent's stop, {len(times)} rounds: "
              f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms "
              f"(goal <= 300 ms)")
    plain = idle_cpu(args.agents, args.window, watch=False)
    watching = idle_cpu(args.agents, args.window, watch=True)
    print(f"idle supervisor CPU, {args.agents} agents, {args.window:g}s window: watching {watching:.2f} %, "
          f"not watching {plain:.2f} % of one core (goal <= 0.5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
