"""The measurements: readiness, shutdown, idle cost, log throughput, CLI latency.

Each function takes a running session (or an argv) and returns numbers; a
tool that does not do the work raises `ToolFailed` with what it printed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil
from runners import TOKEN_VAR, Session, ToolFailed
from workloads import Workload

POLL = 0.002


def attempt(step: Callable[[], object]) -> str | None:
    """Run a measurement; a tool that cannot do it is a finding for the report, not a crash of the run."""
    try:
        step()
    except ToolFailed as failure:
        return str(failure)
    except (OSError, subprocess.SubprocessError, psutil.Error) as error:
        return f"{type(error).__name__}: {error}"
    return None


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


def agent_processes(workload: Workload) -> list[psutil.Process]:
    """The agents, by the pid each wrote into its marker (create time checked by psutil)."""
    found = []
    for name in workload.names:
        try:
            pid = int((workload.markers / f"{name}.up").read_text())
            found.append(psutil.Process(pid))
        except (OSError, ValueError, psutil.Error):
            continue
    return found


def wait_for_return(session: Session, started: float, timeout: float) -> float:
    """Seconds from `started` until the launching command (`up -d`) returned; it must succeed."""
    try:
        code = session.proc.wait(max(0.0, started + timeout - time.perf_counter()))
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"did not return within {timeout:.0f}s: {tail(session)}") from None
    if code != 0:
        raise ToolFailed(f"exited with code {code}: {tail(session)}")
    return time.perf_counter() - started


@dataclass(frozen=True)
class Stopped:
    stop_s: float  # until no agent was alive
    exit_s: float  # ... and the tool's own commands had exited (the prompt is back)
    left_behind: int  # agents still alive after the timeout


def wait_until_stopped(session: Session, agents: Sequence[psutil.Process], started: float,
                       timeout: float) -> Stopped:
    """Times from `started` (the stop request) until the agents are gone, and until the tool has exited.

    A stop command (`down`, `supervisorctl shutdown`) must succeed.
    """
    deadline = started + timeout
    alive = list(agents)
    running = [proc for proc in (session.proc, session.stopper) if proc is not None]
    gone_at = exited_at = None
    while (gone_at is None or exited_at is None) and time.perf_counter() < deadline:
        alive = [proc for proc in alive if _alive(proc)]
        running = [proc for proc in running if proc.poll() is None]
        now = time.perf_counter()
        gone_at = gone_at or (now if not alive else None)
        exited_at = exited_at or (now if not running else None)
        time.sleep(POLL)
    if session.stopper is not None and session.stopper.poll() not in (None, 0):
        raise ToolFailed(f"the stop command exited with code {session.stopper.returncode}: {tail(session)}")
    end = time.perf_counter()
    return Stopped((gone_at or end) - started, (exited_at or end) - started, len(alive))


def stop_order_violations(workload: Workload, tree: dict[str, list[str]]) -> tuple[int, int]:
    """How many `depends_on` edges were stopped out of order, of how many.

    An edge is kept when the dependent had exited (its `.down` marker written
    before exiting) before its dependency was asked to stop; a missing marker
    counts as a violation.
    """
    stopped = {}
    for name in workload.names:
        try:
            stopped[name] = int((workload.markers / f"{name}.down").read_text())
        except (OSError, ValueError):
            continue
    edges = [(dependent, needed) for dependent, needs in tree.items() for needed in needs]
    bad = sum(1 for dependent, needed in edges
              if dependent not in stopped or needed not in stopped or stopped[dependent] > stopped[needed])
    return bad, len(edges)


@dataclass(frozen=True)
class Idle:
    cpu_percent: float  # the orchestrator and its helpers
    rss_mb: float  # the orchestrator's own process
    uss_mb: float
    helpers_rss_mb: float  # its other processes that are not agents (mesh-compose's log keeper, honcho's forks)
    helpers_uss_mb: float
    helpers: int


def idle_cost(session: Session, agents: Sequence[psutil.Process], seconds: float) -> Idle | None:
    """CPU of the orchestrator (and any helper it runs that is not an agent) over an idle window.

    Memory is reported for the orchestrator's own process and, apart, for its
    helpers, so a helper process (a log keeper) is seen for what it costs.
    """
    if session.measured_pid is None:
        return None
    before = _orchestrator_cpu(session.measured_pid, agents)
    time.sleep(seconds)
    after = _orchestrator_cpu(session.measured_pid, agents)
    cpu = sum(after.get(pid, 0.0) - spent for pid, spent in before.items() if pid in after)
    processes = _orchestrator_processes(session.measured_pid, agents)
    rss, uss = _memory(processes[:1])
    helpers_rss, helpers_uss = _memory(processes[1:])
    return Idle(cpu_percent=100.0 * cpu / seconds, rss_mb=rss / 2**20, uss_mb=uss / 2**20,
                helpers_rss_mb=helpers_rss / 2**20, helpers_uss_mb=helpers_uss / 2**20,
                helpers=len(processes) - 1 if processes else 0)


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


def cli_latency(argv: Sequence[str], repeats: int, env: dict[str, str], cwd: Path) -> float:
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


def _orchestrator_processes(pid: int, agents: Sequence[psutil.Process]) -> list[psutil.Process]:
    agent_pids = {agent.pid for agent in agents}
    try:
        root = psutil.Process(pid)
        return [root, *(child for child in root.children(recursive=True) if child.pid not in agent_pids)]
    except psutil.Error:
        return []


def _orchestrator_cpu(pid: int, agents: Sequence[psutil.Process]) -> dict[int, float]:
    spent = {}
    for proc in _orchestrator_processes(pid, agents):
        try:
            times = proc.cpu_times()
            spent[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return spent


def _memory(processes: Sequence[psutil.Process]) -> tuple[int, int]:
    """RSS and USS summed over `processes`.

    RSS counts pages a forked helper shares with its parent once per process
    (honcho forks one helper per agent); USS counts only what each owns.
    """
    rss = uss = 0
    for proc in processes:
        try:
            info = proc.memory_full_info()
            rss, uss = rss + info.rss, uss + getattr(info, "uss", info.rss)
        except psutil.Error:
            continue
    return rss, uss
