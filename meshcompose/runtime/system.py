"""The runtime's one seam to the operating system: processes and time.

A runner spawns, signals, kills and waits through `Processes`, and reads and
waits out time through `Clock`; nothing else of the runtime's lifecycle
touches either. `System.real()` is the operating system's; unit tests hand
in fakes (`tests/support/fakesystem.py`), as honcho's `Manager` takes its
process constructor and clock, so the lifecycle (conditions, restart policy
and backoff, skip, abort-on-exit, exit codes, stop order) runs in
milliseconds with no process and no real sleep.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import anyio
import anyio.abc

from meshcompose.proc import cgroup, process
from meshcompose.proc.identity import ProcessIdentity


class Process(Protocol):
    """What a runner uses of a spawned process (`anyio.abc.Process` has it)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdout(self) -> anyio.abc.ByteReceiveStream | None: ...

    @property
    def stderr(self) -> anyio.abc.ByteReceiveStream | None: ...

    async def wait(self) -> int: ...

    async def aclose(self) -> None: ...


class Processes(Protocol):
    """Spawning, signalling and killing an agent's process tree, and its cgroup."""

    async def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Process:
        """Starts `argv` as the leader of its own group; `AgentStartError` if it cannot."""

    def identity(self, pid: int) -> ProcessIdentity | None:
        """The pid and create time that find the process again (None: already gone)."""

    def kill_tree(self, ident: ProcessIdentity | None, token: str | None, group: Path | None = None, *,
                  leader_exited: bool = False) -> int:
        """SIGKILL for the whole tree; how many it killed."""

    async def kill_tree_and_wait(self, ident: ProcessIdentity | None, token: str | None,
                                 group: Path | None = None, *, leader_exited: bool = False) -> None:
        """`kill_tree`, then until nothing of the tree is alive (time-boxed)."""

    async def stop_group(self, ident: ProcessIdentity | None, token: str | None, *, stop_signal: str,
                         grace: float, exited: Callable[[], Awaitable[object]],
                         on_kill: Callable[[], None], group: Path | None) -> bool:
        """The graceful stop: the stop signal, `grace` seconds, then SIGKILL."""

    def create_group(self, token: str) -> Path | None:
        """A cgroup for one run, where cgroups are available."""

    def limit_group(self, group: Path | None, *, memory: int | None, cpu: float | None) -> frozenset[str]:
        """The limits the cgroup itself holds: "cpu", "memory"."""

    def add_to_group(self, group: Path | None, pid: int) -> None: ...

    def remove_group(self, group: Path | None) -> None: ...

    def oom_killed(self, group: Path | None) -> bool:
        """The kernel's OOM killer ended a member of the cgroup."""


class Clock(Protocol):
    """Time as the lifecycle reads and waits it (uptime, backoff, restarts' reset)."""

    def monotonic(self) -> float: ...

    def time(self) -> float:
        """Seconds since the epoch, for `started_at`."""

    async def sleep(self, seconds: float) -> None: ...


class OsProcesses:
    """The real `Processes`: `proc.process` and `proc.cgroup`."""

    async def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Process:
        return await process.spawn(argv, cwd=cwd, env=env)

    def identity(self, pid: int) -> ProcessIdentity | None:
        return process.identity(pid)

    def kill_tree(self, ident: ProcessIdentity | None, token: str | None, group: Path | None = None, *,
                  leader_exited: bool = False) -> int:
        return process.kill_tree(ident, token, group, leader_exited=leader_exited)

    async def kill_tree_and_wait(self, ident: ProcessIdentity | None, token: str | None,
                                 group: Path | None = None, *, leader_exited: bool = False) -> None:
        await process.kill_tree_and_wait(ident, token, group, leader_exited=leader_exited)

    async def stop_group(self, ident: ProcessIdentity | None, token: str | None, *, stop_signal: str,
                         grace: float, exited: Callable[[], Awaitable[object]],
                         on_kill: Callable[[], None], group: Path | None) -> bool:
        return await process.stop_group(ident, token, stop_signal=stop_signal, grace=grace, exited=exited,
                                        on_kill=on_kill, cgroup=group)

    def create_group(self, token: str) -> Path | None:
        return cgroup.create(token)

    def limit_group(self, group: Path | None, *, memory: int | None, cpu: float | None) -> frozenset[str]:
        return cgroup.limit(group, memory=memory, cpu=cpu)

    def add_to_group(self, group: Path | None, pid: int) -> None:
        cgroup.add(group, pid)

    def remove_group(self, group: Path | None) -> None:
        cgroup.remove(group)

    def oom_killed(self, group: Path | None) -> bool:
        return cgroup.oom_killed(group)


class OsClock:
    """The real `Clock`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@dataclass(frozen=True)
class System:
    """Processes and time, handed to the supervisor and by it to each runner."""

    processes: Processes = field(default_factory=OsProcesses)
    clock: Clock = field(default_factory=OsClock)
