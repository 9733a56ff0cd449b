"""Fakes behind the runtime's seam (`meshcompose.runtime.system`): processes
that do what a test scripts, and a clock whose sleeps end at once.

A `FakeClock` sleep returns at the next checkpoint and records its length,
so a test reads the backoff delays the runner asked for instead of waiting
them out; virtual time (`monotonic`) advances by each sleep. An agent's
`Behaviour` says, per run, what its process does: print lines, exit with a
code at once or when the test says so, and how it answers the stop signal.
Everything a fake does is appended to `FakeSystem.log`, in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from meshcompose.errors import AgentStartError
from meshcompose.proc.identity import TOKEN_VAR, ProcessIdentity
from meshcompose.runtime.system import System

AGENT_VAR = "MESH_COMPOSE_AGENT"


class Gate:
    """A door a test opens; usable before the event loop runs (unlike `anyio.Event`)."""

    def __init__(self) -> None:
        self.opened = False

    def open(self) -> None:
        self.opened = True

    async def wait(self) -> None:
        while not self.opened:
            await anyio.lowlevel.checkpoint()


@dataclass(frozen=True)
class Behaviour:
    """One run of an agent's process."""

    lines: tuple[str, ...] = ()  # printed at once on stdout
    exit_code: int | None = None  # exits at once with it; None: runs until stopped or told
    on_stop: int | None = -15  # exit code on the stop signal (-15: killed by it); None: ignores it
    stop_takes: float = 0.0  # seconds between the stop signal and its exit (`FakeClock` time)
    spawn_error: str | None = None  # the spawn fails (`AgentStartError`)
    stop_gate: Gate | None = None  # if set, the stop signal is answered only once it is open


def runs(**changes: object) -> Behaviour:
    return Behaviour(**changes)  # type: ignore[arg-type]


def exits(code: int, *lines: str) -> Behaviour:
    return Behaviour(lines=lines, exit_code=code)


class FakeStream(anyio.abc.ByteReceiveStream):
    def __init__(self, receive: MemoryObjectReceiveStream[bytes]) -> None:
        self._receive = receive

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise anyio.EndOfStream from None

    async def aclose(self) -> None:
        await self._receive.aclose()


class FakeProcess:
    def __init__(self, system: FakeSystem, name: str, pid: int, behaviour: Behaviour) -> None:
        self.system, self.name, self.pid, self.behaviour = system, name, pid, behaviour
        self.returncode: int | None = None
        self.signals: list[str] = []
        out_send, out_receive = anyio.create_memory_object_stream[bytes](1000)
        err_send, err_receive = anyio.create_memory_object_stream[bytes](1000)
        self._sends: list[MemoryObjectSendStream[bytes]] = [out_send, err_send]
        self.stdout: anyio.abc.ByteReceiveStream | None = FakeStream(out_receive)
        self.stderr: anyio.abc.ByteReceiveStream | None = FakeStream(err_receive)
        self._done = anyio.Event()

    def print(self, *lines: str) -> None:
        for line in lines:
            self._sends[0].send_nowait(line.encode() + b"\n")

    def exit(self, code: int) -> None:
        """The process ends with `code` (negative: killed by that signal)."""
        if self.returncode is not None:
            return
        self.returncode = code
        self.system.log.append(("exit", self.name, code))
        for send in self._sends:
            send.close()
        self._done.set()

    async def wait(self) -> int:
        await self._done.wait()
        assert self.returncode is not None
        return self.returncode

    async def aclose(self) -> None:
        for send in self._sends:
            send.close()


class FakeProcesses:
    def __init__(self, system: FakeSystem, behaviours: Mapping[str, Sequence[Behaviour]]) -> None:
        self.system = system
        self._behaviours = {name: list(runs) for name, runs in behaviours.items()}
        self.spawned: dict[str, list[FakeProcess]] = defaultdict(list)
        self._by_token: dict[str, FakeProcess] = {}
        self._next_pid = 1000

    def behaviour(self, name: str) -> Behaviour:
        """The next run's; the last one given repeats."""
        runs = self._behaviours.get(name) or [Behaviour()]
        return runs.pop(0) if len(runs) > 1 else runs[0]

    async def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> FakeProcess:
        await anyio.lowlevel.checkpoint()
        name = env[AGENT_VAR]
        behaviour = self.behaviour(name)
        if behaviour.spawn_error:
            self.system.log.append(("spawn failed", name, behaviour.spawn_error))
            raise AgentStartError(behaviour.spawn_error)
        self._next_pid += 1
        proc = FakeProcess(self.system, name, self._next_pid, behaviour)
        self.spawned[name].append(proc)
        self._by_token[env[TOKEN_VAR]] = proc
        self.system.log.append(("start", name, self.system.clock.now))
        proc.print(*behaviour.lines)
        if behaviour.exit_code is not None:
            proc.exit(behaviour.exit_code)
        return proc

    def identity(self, pid: int) -> ProcessIdentity | None:
        return None  # nothing real to find: the fakes find their processes by token

    def kill_tree(self, ident: ProcessIdentity | None, token: str | None, group: Path | None = None, *,
                  leader_exited: bool = False) -> int:
        proc = self._by_token.get(token or "")
        if proc is None or proc.returncode is not None:
            return 0
        self.system.log.append(("kill", proc.name, None))
        proc.exit(-9)
        return 1

    async def kill_tree_and_wait(self, ident: ProcessIdentity | None, token: str | None,
                                 group: Path | None = None, *, leader_exited: bool = False) -> None:
        self.kill_tree(ident, token, group, leader_exited=leader_exited)
        await anyio.lowlevel.checkpoint()

    async def stop_group(self, ident: ProcessIdentity | None, token: str | None, *, stop_signal: str,
                         grace: float, exited: Callable[[], Awaitable[object]],
                         on_kill: Callable[[], None], group: Path | None) -> bool:
        proc = self._by_token[token or ""]
        proc.signals.append(stop_signal)
        self.system.log.append(("signal", proc.name, stop_signal))
        behaviour = proc.behaviour
        with anyio.CancelScope(shield=True):  # as the real one: safe in a cancelled task's finally
            if behaviour.stop_gate is not None:
                await behaviour.stop_gate.wait()
            if behaviour.on_stop is not None and behaviour.stop_takes <= grace:
                await self.system.clock.sleep(behaviour.stop_takes)
                proc.exit(behaviour.on_stop)
                await exited()
                return False
            await self._grace(proc, grace)
            if proc.returncode is None:
                on_kill()
                self.kill_tree(ident, token, group)
            await exited()
            return True

    async def _grace(self, proc: FakeProcess, grace: float) -> None:
        """Until the grace has passed on the clock, or the process ended (a kill)."""
        async with anyio.create_task_group() as tg:

            async def first(wait: Callable[[], Awaitable[object]]) -> None:
                await wait()
                tg.cancel_scope.cancel()

            tg.start_soon(first, lambda: self.system.clock.sleep(grace))
            tg.start_soon(first, proc.wait)

    def create_group(self, token: str) -> Path | None:
        return None

    def limit_group(self, group: Path | None, *, memory: int | None, cpu: float | None) -> frozenset[str]:
        return frozenset()

    def add_to_group(self, group: Path | None, pid: int) -> None:
        pass

    def remove_group(self, group: Path | None) -> None:
        pass

    def oom_killed(self, group: Path | None) -> bool:
        return False


class FakeClock:
    """Sleeps end at the next checkpoint; each is recorded, and advances `now`.
    With `hold` set, a sleep lasts until the test opens it (or cancels it)."""

    EPOCH = 1_800_000_000.0

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.hold: Gate | None = None

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.hold is not None:
            await self.hold.wait()
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@dataclass
class FakeSystem:
    behaviours: Mapping[str, Sequence[Behaviour]] = field(default_factory=dict)
    log: list[tuple[str, str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = FakeClock()
        self.processes = FakeProcesses(self, self.behaviours)

    @property
    def system(self) -> System:
        return System(processes=self.processes, clock=self.clock)

    def events(self, kind: str) -> list[str]:
        """The agents in the order of their `kind` events ("start", "signal", "exit")."""
        return [name for event, name, _ in self.log if event == kind]
