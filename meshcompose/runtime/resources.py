"""`resources: {timeout, memory_limit, cpu_limit}`, enforced on each agent's whole tree.

One `ResourceWatcher` serves every agent of a supervisor. It sleeps until the
next thing due: the earliest timeout, or the next memory sample (about once a
second, only while some agent has a `memory_limit`), so a project without
limits costs nothing and fifty idle limited agents cost one listing of /proc
a second (`proc.tree`, which also gives `ps` its figures). A limit that is
crossed is reported to the agent's runner (`on_breach`), which stops the
agent gracefully; its restart policy then applies.

Mechanisms, honestly:

- Where the agent's run has its own cgroup v2 with the `memory` and `cpu`
  controllers (`proc.cgroup.limit`), the kernel holds memory_limit
  (`memory.max`, no swap, the whole agent OOM-killed together) and
  cpu_limit (`cpu.max`) for every process of the agent, whatever group or
  session it is in; this watcher then samples neither. Its status says
  `(cgroup)`.
- Elsewhere, memory_limit is enforced by this watcher: the summed RSS of the
  tree, sampled, so an agent can overshoot for up to one period, and a
  process that left the tree (setsid and a fresh environment) is not
  counted. RLIMIT_AS limits virtual memory, not RSS, and would break
  ordinary programs. Its status says `(sampled)`.
- timeout is always this watcher's.
- listening beyond loopback (no limit, the same sampling): an agent asked for a
  loopback host (`meshplan.requested_host`) has its tree's sockets looked at
  LISTEN_FIRST s after its start, then doubling up to every LISTEN_PERIOD s;
  what listens beyond loopback goes to its runner, each address once (`on_exposed`).
- Without a cgroup, cpu_limit pins the agent to ceil(limit) CPUs (affinity,
  inherited by its children) and, for a fraction, runs a SIGSTOP/SIGCONT
  duty cycle on its process group (`throttle`): a child that leaves the
  group escapes the fraction. A platform without a mechanism gets a warning.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import anyio
import psutil

from meshcompose.model import Resources
from meshcompose.proc import cgroup, process, sockets
from meshcompose.proc import tree as proctree
from meshcompose.runtime import throttle
from meshcompose.units import format_duration, format_size, plural

SAMPLE_SECONDS = 1.0
# The SDK's stray server appears during start-up (2-10 s in): look soon,
# then back off to a pace that costs nothing (one look reads the socket tables).
LISTEN_FIRST = 1.0
LISTEN_PERIOD = 30.0


@dataclass(frozen=True)
class Breach:
    """A limit an agent crossed: `message` for its status, `detail` for the log."""

    kind: str  # "timeout" | "memory"
    message: str  # "timeout after 5m", "memory limit 1.0 GiB exceeded: 1.2 GiB"
    detail: str


@dataclass(frozen=True)
class Note:
    """Something to tell the user once when an agent's limits are applied."""

    level: str  # info | warning
    text: str


@dataclass(frozen=True)
class CpuPlan:
    cpus: tuple[int, ...] = ()  # pin to these; () leaves the affinity alone
    share: float | None = None  # duty cycle fraction, None for none
    notes: tuple[Note, ...] = ()


OnBreach = Callable[[Breach], Coroutine[Any, Any, None]]
# (what it listens on beyond loopback now, e.g. ("0.0.0.0:43121",); the warning for newly found ones or None)
OnExposed = Callable[[tuple[str, ...], "str | None"], None]


# -- what this platform offers ------------------------------------------------


def can_pin() -> bool:
    return hasattr(psutil.Process, "cpu_affinity")


def mechanisms() -> dict[str, str]:
    """Which mechanism enforces each limit here, for `env` / `ps --format json`."""
    offered = cgroup.offered_limits()
    sampled = f"sampled: summed RSS of the process tree every {SAMPLE_SECONDS:g}s ({_no_kernel_memory_limit()})"
    return {
        "timeout": "watcher: stop signal, grace, kill",
        "memory_limit": "cgroup: memory.max of the agent's cgroup" if "memory" in offered else sampled,
        "cpu_limit_whole": "cgroup: cpu.max of the agent's cgroup" if "cpu" in offered else (
            "CPU affinity" if can_pin() else "none: this platform cannot pin CPUs"),
        "cpu_limit_fraction": "cgroup: cpu.max of the agent's cgroup" if "cpu" in offered else _fraction_mechanism(),
    }


def limits_summary() -> str:
    """Which mechanism holds memory_limit and cpu_limit here, in one line
    (`env`): `cgroup` (the kernel's) or `sampled` (this watcher)."""
    offered = cgroup.offered_limits()
    memory = "cgroup memory.max" if "memory" in offered else "sampled RSS"
    cpu = "cgroup cpu.max" if "cpu" in offered else "affinity and a duty cycle"
    why = "" if offered == {"cpu", "memory"} else f" ({_no_kernel_memory_limit()})"
    return f"memory_limit: {memory}; cpu_limit: {cpu}{why}"


def _fraction_mechanism() -> str:
    if not throttle.HAS_JOB_CONTROL:
        return "none: no SIGSTOP/SIGCONT on this platform"
    pinned = " on one pinned CPU" if can_pin() else ""
    return f"SIGSTOP/SIGCONT duty cycle on the process group every {throttle.PERIOD_SECONDS * 1000:g}ms{pinned}"


def _no_kernel_memory_limit() -> str:
    """Why the kernel's limits do not hold here (the honest answer for this machine)."""
    group = _own_cgroup_v2()
    if group is None:
        return "no cgroup v2 here"
    if cgroup.root() is None:
        return "cgroup v2 is not writable here"
    delegated = _read_text(group / "cgroup.subtree_control").split()
    missing = [name for name in cgroup.LIMIT_CONTROLLERS if name not in delegated]
    if not missing:
        return "cgroup v2 memory and cpu controllers available"
    return (f"cgroup v2 does not give this cgroup's children the {' and '.join(missing)} "
            f"controller{'s' if len(missing) > 1 else ''}")


def _own_cgroup_v2() -> Path | None:
    lines = _read_text(Path("/proc/self/cgroup")).splitlines()
    relative = next((line[3:] for line in lines if line.startswith("0::")), None)
    if relative is None:
        return None
    for mount in _read_text(Path("/proc/self/mounts")).splitlines():
        parts = mount.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return Path(parts[1] + relative.rstrip("/"))
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# -- cpu_limit ------------------------------------------------------------------


def plan_cpu(limit: float, available: Sequence[int], start: int = 0, *,
             pin: bool = True, duty: bool = True) -> CpuPlan:
    """How to hold an agent to `limit` CPUs given the CPUs it may use.

    ceil(limit) CPUs are pinned, chosen round-robin from `start` so several
    limited agents spread out; a fraction then runs for limit/ceil(limit) of
    the time, which is `limit` CPUs in total.
    """
    count = max(1, math.ceil(limit))
    share = None if limit == count else limit / count
    if count >= len(available) and share is None:
        cpus_here = plural(len(available), "CPU")
        note = Note("warning", f"cpu_limit {limit:g} is not below the {cpus_here} here: not limited")
        return CpuPlan(notes=(note,))
    cpus: tuple[int, ...] = ()
    notes: list[Note] = []
    if count < len(available):
        if pin:
            ordered = list(available)
            cpus = tuple(sorted(ordered[(start + i) % len(ordered)] for i in range(count)))
        else:
            notes.append(Note("warning", f"cpu_limit {limit:g} cannot pin CPUs on this platform: "
                                         f"the agent may use every CPU"))
    if share is not None and not duty:
        notes.append(Note("warning", f"cpu_limit {limit:g} cannot be throttled on this platform "
                                     f"(no SIGSTOP/SIGCONT): not limited to a fraction"))
        share = None
    return CpuPlan(cpus, share, tuple(notes))


def pin(pid: int, cpus: Sequence[int]) -> None:
    """Set the affinity of `pid` and of every thread it already has (Linux
    affinity is per thread; later threads and children inherit it)."""
    psutil.Process(pid).cpu_affinity(list(cpus))
    if hasattr(os, "sched_setaffinity"):
        for thread in psutil.Process(pid).threads():
            try:
                os.sched_setaffinity(thread.id, cpus)
            except OSError:
                pass  # a thread that just ended


def describe(resources: Resources, plan: CpuPlan | None, held: frozenset[str] = frozenset()) -> str | None:
    """One line for the agent's status (`ps`): which limits hold and how;
    `held`: those the agent's cgroup holds (`cgroup`), the others are `sampled`."""
    parts = []
    if resources.timeout is not None:
        parts.append(f"timeout {format_duration(resources.timeout)}")
    if resources.memory_limit is not None:
        memory_by = "cgroup" if "memory" in held else "sampled"
        parts.append(f"memory {format_size(resources.memory_limit)} ({memory_by})")
    if resources.cpu_limit is not None and "cpu" in held:
        parts.append(f"cpu {resources.cpu_limit:g} (cgroup)")
    elif plan is not None and (plan.cpus or plan.share):
        how = [f"CPU {','.join(map(str, plan.cpus))}"] if plan.cpus else []
        how += [f"duty cycle {plan.share:.0%}"] if plan.share else []
        parts.append(f"cpu {resources.cpu_limit:g} ({', '.join(how)})")
    return "; ".join(parts) or None


# -- the watcher ------------------------------------------------------------------


@dataclass
class _Watched:
    ident: process.ProcessIdentity
    token: str
    resources: Resources
    on_breach: OnBreach
    deadline: float | None = None
    cycle: throttle.DutyCycle | None = None
    tasks_started: bool = field(default=False)


@dataclass
class _Listening:
    ident: process.ProcessIdentity
    token: str
    asked_host: str
    on_exposed: OnExposed
    due: float
    interval: float = LISTEN_FIRST


class ResourceWatcher:
    """The one loop that enforces every agent's limits; run it in the supervisor's task group."""

    def __init__(self, period: float = SAMPLE_SECONDS, *, clock: Callable[[], float] = time.monotonic,
                 sampler: proctree.TreeSampler | None = None) -> None:
        self.period = period
        self._clock = clock
        self._sampler = sampler or proctree.TreeSampler()
        self._watched: dict[str, _Watched] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._wake = anyio.Event()
        self._last_sample = -math.inf
        self._cpu_slots: dict[str, int] = {}
        self._told: set[str] = set()
        self._listening: dict[str, _Listening] = {}
        self._warned: dict[str, set[sockets.Listener]] = {}  # once per agent per address, across restarts

    def watch(self, name: str, ident: process.ProcessIdentity, token: str, resources: Resources,
              on_breach: OnBreach, *, held: frozenset[str] = frozenset()) -> tuple[str | None, list[Note]]:
        """Enforce `resources` on the agent `name` just spawned as `ident`,
        but for the limits its cgroup holds (`held`: `memory`, `cpu`).

        Returns the status description of the active mechanisms and the notes
        to show (each agent's notes only the first time: restarts stay quiet).
        """
        self._release(name)
        sampled = dataclasses.replace(
            resources, memory_limit=None if "memory" in held else resources.memory_limit,
            cpu_limit=None if "cpu" in held else resources.cpu_limit)
        watched = _Watched(ident, token, sampled, on_breach)
        if resources.timeout is not None:
            watched.deadline = self._clock() + resources.timeout
        plan: CpuPlan | None = None
        notes: list[Note] = []
        if sampled.cpu_limit is not None:
            plan, notes = self._apply_cpu(name, watched, sampled.cpu_limit)
        self._watched[name] = watched
        self._start_cycle(watched)
        self._wake.set()
        if name in self._told:
            notes = []
        self._told.add(name)
        return describe(resources, plan, held), notes

    def watch_listening(self, name: str, ident: process.ProcessIdentity, token: str,
                        asked_host: str | None, on_exposed: OnExposed) -> None:
        """Look at what the agent just spawned as `ident` listens on, if the
        project asked it for a loopback host (else there is nothing to break)."""
        if asked_host and sockets.is_loopback(asked_host):
            self._listening[name] = _Listening(ident, token, asked_host, on_exposed, self._clock() + LISTEN_FIRST)
            self._wake.set()

    def unwatch(self, name: str) -> None:
        """Stop enforcing and looking (before a stop signal, and once the agent
        exited): a throttled group is let run again so it can act on SIGTERM."""
        self._listening.pop(name, None)
        self._release(name)

    def _release(self, name: str) -> None:
        watched = self._watched.pop(name, None)
        if watched is not None and watched.cycle is not None:
            watched.cycle.release()

    @property
    def watching(self) -> list[str]:
        return sorted(self._watched)

    # -- cpu ---------------------------------------------------------------------

    def _apply_cpu(self, name: str, watched: _Watched, limit: float) -> tuple[CpuPlan, list[Note]]:
        slot = self._cpu_slots.setdefault(name, sum(
            math.ceil(w.resources.cpu_limit) for w in self._watched.values() if w.resources.cpu_limit))
        plan = plan_cpu(limit, _available_cpus(), slot,
                        pin=can_pin(), duty=throttle.HAS_JOB_CONTROL)
        notes = list(plan.notes)
        if plan.cpus:
            try:
                pin(watched.ident.pid, plan.cpus)
            except (psutil.Error, OSError) as error:
                notes.append(Note("warning", f"cpu_limit: could not pin to CPU {plan.cpus}: {error}"))
        if plan.share is not None:
            watched.cycle = throttle.DutyCycle(watched.ident, plan.share)
        return plan, notes

    def _start_cycle(self, watched: _Watched) -> None:
        if watched.cycle is not None and self._tg is not None and not watched.tasks_started:
            watched.tasks_started = True
            self._tg.start_soon(watched.cycle.run, name="cpu duty cycle")

    # -- the loop ----------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for watched in self._watched.values():
                    self._start_cycle(watched)
                task_status.started()
                while True:
                    delay = self._next_delay()
                    self._wake = anyio.Event()
                    with anyio.move_on_after(delay):
                        await self._wake.wait()
                    self._tick()
        finally:
            self._tg = None
            for watched in self._watched.values():
                if watched.cycle is not None:
                    watched.cycle.release()  # never leave a group stopped behind us

    def _next_delay(self) -> float:
        now = self._clock()
        due = [w.deadline for w in self._watched.values() if w.deadline is not None]
        if self._memory_watched():
            due.append(self._last_sample + self.period)
        due += [listening.due for listening in self._listening.values()]
        return max(0.0, min(due) - now) if due else math.inf

    def _memory_watched(self) -> dict[str, _Watched]:
        return {name: w for name, w in self._watched.items() if w.resources.memory_limit is not None}

    def _tick(self) -> None:
        now = self._clock()
        for name, watched in list(self._watched.items()):
            timeout = watched.resources.timeout
            if watched.deadline is not None and timeout is not None and now >= watched.deadline:
                self._breach(name, _timeout_breach(timeout))
        limited = self._memory_watched()
        if limited and now >= self._last_sample + self.period:
            self._last_sample = now
            usage = self._sampler.sample({name: (w.ident, w.token) for name, w in limited.items()})
            for name, used in usage.items():
                limit = limited[name].resources.memory_limit
                if limit is not None and used.rss > limit and name in self._watched:
                    self._breach(name, _memory_breach(limit, used))
        self._look_at_listeners(now)

    def _look_at_listeners(self, now: float) -> None:
        """One read of the socket tables for every agent due (or due within
        LISTEN_FIRST: agents started together are looked at together)."""
        due = {name: w for name, w in self._listening.items() if w.due <= now + LISTEN_FIRST}
        if not due:
            return
        for watched in due.values():
            watched.interval = min(watched.interval * 2, LISTEN_PERIOD)
            watched.due = now + watched.interval
        try:
            found = sockets.listening(self._sampler.members({name: (w.ident, w.token) for name, w in due.items()}))
        except (OSError, ValueError):
            return  # an unreadable table tells nothing, and a look never stops the supervisor
        for name, watched in due.items():
            exposed = sockets.exposed(found.get(name, ()), watched.asked_host)
            warned = self._warned.setdefault(name, set())
            new = [listener for listener in exposed if listener not in warned]
            warned.update(new)
            warning = sockets.warning(new, watched.asked_host) if new else None
            watched.on_exposed(tuple(listener.address for listener in exposed), warning)

    def _breach(self, name: str, breach: Breach) -> None:
        watched = self._watched[name]
        self.unwatch(name)
        if self._tg is not None:
            self._tg.start_soon(watched.on_breach, breach, name=f"{breach.kind} limit of {name}")


def _timeout_breach(timeout: float) -> Breach:
    text = f"timeout after {format_duration(timeout)}"
    return Breach("timeout", text, f"{text}: stopping")


def kernel_memory_breach(limit: int) -> Breach:
    """The kernel's OOM killer ended the agent at its cgroup's memory.max."""
    text = f"memory limit {format_size(limit)} exceeded"
    return Breach("memory", text, f"{text}: killed by the kernel (cgroup memory.max {limit} bytes)")


def _memory_breach(limit: int, used: proctree.TreeUsage) -> Breach:
    text = f"memory limit {format_size(limit)} exceeded: {format_size(used.rss)}"
    detail = f"{text} (summed RSS of {used.processes} process(es), limit {limit} bytes): stopping"
    return Breach("memory", text, detail)


def _available_cpus() -> list[int]:
    if can_pin():
        try:
            return sorted(psutil.Process().cpu_affinity())
        except (psutil.Error, OSError):
            pass
    return list(range(os.cpu_count() or 1))
