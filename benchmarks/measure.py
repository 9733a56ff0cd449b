"""The measurements: readiness, shutdown, idle cost, log throughput, CLI latency.

Each function takes a running session (or an argv) and returns numbers; a
tool that does not do the work raises `ToolFailed` with what it printed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import psutil

from runners import TOKEN_VAR, Session, ToolFailed
from workloads import Workload

POLL = 0.002


def wait_until_up(session: Session, workload: Workload, started: float, timeout: float) -> float:
    """Seconds from `started` until every agent's marker exists."""
    wanted = len(workload.names)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if _count_markers(workload.markers) >= wanted:
            return time.perf_counter() - started
        code = session.proc.poll()
        if code not in (None, 0):
            raise ToolFailed(f"exited with code {code} before the agents were up: {tail(session)}")
        time.sleep(POLL)
    seen = _count_markers(workload.markers)
    raise ToolFailed(f"only {seen} of {wanted} agents up after {timeout:.0f}s: {tail(session)}")


def agent_processes(workload: Workload) -> List[psutil.Process]:
    """The agents, by the pid each wrote into its marker (create time checked by psutil)."""
    found = []
    for name in workload.names:
        try:
            pid = int((workload.markers / f"{name}.up").read_text())
            found.append(psutil.Process(pid))
        except (OSError, ValueError, psutil.Error):
            continue
    return found


def check_stop_command(session: Session, timeout: float = 30.0) -> None:
    """A tool stopped by a command (`down`, `supervisorctl shutdown`): that command must succeed."""
    if session.stopper is None:
        return
    try:
        code = session.stopper.wait(timeout)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"the stop command did not return within {timeout:.0f}s") from None
    if code != 0:
        raise ToolFailed(f"the stop command exited with code {code}: {tail(session)}")


def wait_until_gone(agents: Sequence[psutil.Process], started: float, timeout: float) -> Tuple[float, int]:
    """Seconds from `started` until no agent is alive, and how many outlived `timeout`."""
    deadline = started + timeout
    alive = list(agents)
    while alive and time.perf_counter() < deadline:
        alive = [proc for proc in alive if _alive(proc)]
        if alive:
            time.sleep(POLL)
    return time.perf_counter() - started, len(alive)


@dataclass(frozen=True)
class Idle:
    cpu_percent: float
    rss_mb: float
    uss_mb: float


def idle_cost(session: Session, agents: Sequence[psutil.Process], seconds: float) -> Optional[Idle]:
    """CPU of the orchestrator (and any helper it runs that is not an agent) over an idle window."""
    if session.measured_pid is None:
        return None
    before = _orchestrator_cpu(session.measured_pid, agents)
    time.sleep(seconds)
    after = _orchestrator_cpu(session.measured_pid, agents)
    cpu = sum(after.get(pid, 0.0) - spent for pid, spent in before.items() if pid in after)
    rss, uss = _orchestrator_memory(session.measured_pid, agents)
    return Idle(cpu_percent=100.0 * cpu / seconds, rss_mb=rss / 2**20, uss_mb=uss / 2**20)


def flood_rate(session: Session, workload: Workload, timeout: float) -> float:
    """Lines per second from GO until every agent's last line is in the output file(s)."""
    readers = [_Tail(path) for path in session.outputs]
    (workload.markers / "GO").write_text("go")
    started = time.perf_counter()
    deadline = started + timeout
    done = 0
    while time.perf_counter() < deadline:
        done += sum(reader.count_new(b"FLOOD-DONE") for reader in readers)
        if done >= len(workload.names):
            return len(workload.names) * workload.lines / (time.perf_counter() - started)
        time.sleep(POLL)
    raise ToolFailed(f"only {done} of {len(workload.names)} agents' output arrived in {timeout:.0f}s")


def cli_latency(argv: Sequence[str], repeats: int, env: Dict[str, str], cwd: Path) -> float:
    """Median wall time of a command that must succeed."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, timeout=60)
        samples.append(time.perf_counter() - started)
        if result.returncode != 0:
            detail = (result.stdout + result.stderr).decode(errors="replace").strip()[-300:]
            raise ToolFailed(f"`{' '.join(argv[-2:])}` exited {result.returncode}: {detail}")
    return statistics.median(samples)


def reap(session: Session, token: str, timeout: float = 15.0) -> int:
    """End the orchestrator and anything else carrying this run's token; returns how many were killed."""
    for proc in (session.proc, session.stopper):
        if proc is None:
            continue
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return kill_tokened(token)


def kill_tokened(token: str) -> int:
    killed = 0
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(TOKEN_VAR) == token and proc.status() != psutil.STATUS_ZOMBIE:
                proc.kill()
                killed += 1
        except (psutil.Error, OSError):
            continue
    return killed


def tail(session: Session, lines: int = 3) -> str:
    """The last lines the tool printed, for a note."""
    try:
        data = session.outputs[0].read_bytes()[-4000:] if session.outputs else b""
    except OSError:
        data = b""
    last = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()][-lines:]
    return " | ".join(last) or "(no output)"


class _Tail:
    """Reads only what was appended since last time; counts a token across chunk edges."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.carry = path, 0, b""

    def count_new(self, token: bytes) -> int:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return 0
        self.offset += len(data)
        # The carry is shorter than the token, so every match in it + data is new.
        text = self.carry + data
        self.carry = text[-(len(token) - 1):]
        return text.count(token)


def _count_markers(markers: Path) -> int:
    try:
        return sum(1 for entry in os.scandir(markers) if entry.name.endswith(".up"))
    except FileNotFoundError:
        return 0


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _orchestrator_processes(pid: int, agents: Sequence[psutil.Process]) -> List[psutil.Process]:
    agent_pids = {agent.pid for agent in agents}
    try:
        root = psutil.Process(pid)
        return [root, *(child for child in root.children(recursive=True) if child.pid not in agent_pids)]
    except psutil.Error:
        return []


def _orchestrator_cpu(pid: int, agents: Sequence[psutil.Process]) -> Dict[int, float]:
    spent = {}
    for proc in _orchestrator_processes(pid, agents):
        try:
            times = proc.cpu_times()
            spent[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return spent


def _orchestrator_memory(pid: int, agents: Sequence[psutil.Process]) -> Tuple[int, int]:
    """RSS and USS summed over the orchestrator's processes.

    RSS counts pages a forked helper shares with its parent once per process
    (honcho forks one helper per agent); USS counts only what each owns.
    """
    rss = uss = 0
    for proc in _orchestrator_processes(pid, agents):
        try:
            info = proc.memory_full_info()
            rss, uss = rss + info.rss, uss + getattr(info, "uss", info.rss)
        except psutil.Error:
            continue
    return rss, uss
