"""The `registered` condition and the registry health probe, for one project.

`depends_on: {provider: {condition: registered}}` holds once the MCP Mesh
registry lists the provider as healthy *and* has heard from it since its
current process started (a `kill -9`ed predecessor stays listed healthy for
20-30 s under the same id); it can no longer hold once the provider has
ended. `healthcheck: {registry: true}` asks the same question periodically.

Every waiter and probe of a process reads the registry through one shared
`RegistryPoller` per URL: concurrent askers share one `GET /agents`, asked
at most every `FAST` seconds while someone waits for a registration, and
reused for up to `STEADY` seconds by probes of agents already registered.
So a project costs the registry ~10 requests/s for the few seconds its
agents take to register, and one per `STEADY` seconds afterwards, however
many agents it has. FAST is what `up -d` adds after the last registration
(it returns within one read of it): a dependent, a `healthy` and
the end of `up -d` follow a registration by at most one read.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Callable

import anyio

from meshcompose.mesh import registry, registry_client
from meshcompose.mesh.registry_client import Snapshot
from meshcompose.model import Healthcheck

Probe = Callable[[], Awaitable[bool]]
StartedAt = Callable[[], "float | None"]  # epoch start of the agent's current process

FAST = 0.1  # seconds between reads while someone waits to see a registration
STEADY = 15.0  # how old a read may be for a probe of an agent seen registered
# A probe of an agent not yet registered watches for it this long: the
# default healthcheck interval (under the default 5 s timeout), so under the
# default interval the next probe starts as this one gives up, and `healthy`
# follows the registration within FAST, wherever in the interval it falls.
PATIENCE = Healthcheck.interval


class RegistryPoller:
    """One `GET /agents` at a time, shared by every asker that accepts its age."""

    def __init__(self, url: str, fetch: Callable[[str], Awaitable[Snapshot | None]] | None = None) -> None:
        self.url = url
        self._fetch = fetch or registry_client.asnapshot
        self._latest: Snapshot | None = None
        self._taken_at = -float("inf")  # time.monotonic() of the latest read
        self._inflight: anyio.Event | None = None
        self.requests = 0
        # Told of every new read (the supervisor's mesh events): they see what
        # the askers caused to be read, and never cause a read themselves.
        self.listeners: list[Callable[[Snapshot], None]] = []

    async def read(self, max_age: float) -> Snapshot | None:
        """The latest snapshot if younger than `max_age`, else a new one
        (joining a read already under way)."""
        while time.monotonic() - self._taken_at > max_age:
            if self._inflight is not None:
                await self._inflight.wait()
                continue
            self._inflight = done = anyio.Event()
            try:
                self.requests += 1
                self._latest = await self._fetch(self.url)
                self._taken_at = time.monotonic()
                if self._latest is not None:
                    for listener in self.listeners:
                        listener(self._latest)
            finally:
                self._inflight = None
                done.set()
        return self._latest


_pollers: dict[str, RegistryPoller] = {}


def poller(url: str) -> RegistryPoller:
    """The process-wide poller for `url` (a supervisor runs one project)."""
    if url not in _pollers:
        _pollers[url] = RegistryPoller(url)
    return _pollers[url]


def _no_start() -> float | None:
    return None


@dataclass(frozen=True)
class Registration:
    """Registry questions about one project's agents; `url` None means no registry is known."""

    url: str | None
    project: str

    def agent_id(self, agent: str) -> str:
        return registry.agent_id(self.project, agent)

    async def wait(self, agent: str, ended: Callable[[], Awaitable[str]],
                   started: StartedAt = _no_start) -> tuple[bool, str]:
        """Until the registry lists `agent` as healthy and seen since
        `started()`: (True, ""); or until `ended()` returns, which it does
        with the reason once the agent ended for good: (False, reason)."""
        outcome: list[tuple[bool, str]] = []
        async with anyio.create_task_group() as tg:

            async def registered() -> None:
                await self._until_registered(agent, started)
                outcome.append((True, ""))
                tg.cancel_scope.cancel()

            async def gone() -> None:
                reason = await ended()
                outcome.append((False, f"'{agent}' never registered: {reason}"))
                tg.cancel_scope.cancel()

            tg.start_soon(registered)
            tg.start_soon(gone)
        return outcome[0]

    async def _until_registered(self, agent: str, started: StartedAt) -> None:
        source, agent_id = poller(self._url()), self.agent_id(agent)
        while True:
            taken = await source.read(FAST)
            if taken is not None and taken.registered_since(agent_id, started()):
                return
            await anyio.sleep(FAST)

    async def registered_now(self, agent: str, started: float | None) -> bool:
        """Whether a read (at most FAST old) lists `agent` registered since `started`."""
        taken = await poller(self._url()).read(FAST)
        return taken is not None and taken.registered_since(self.agent_id(agent), started)

    async def wait_left(self, agent: str) -> None:
        """Until the registry no longer lists `agent` healthy: it deregistered
        (an SDK agent does so on its stop signal, well before its process ends)."""
        source, agent_id = poller(self._url()), self.agent_id(agent)
        while True:
            taken = await source.read(FAST)
            info = taken.agents.get(agent_id) if taken is not None else None
            if taken is not None and (info is None or not info.healthy):
                return
            await anyio.sleep(FAST)

    def probe(self, agent: str, started: StartedAt = _no_start, wired: bool = False) -> Probe:
        """A health probe: is `agent` registered (since `started()`) and healthy,
        and (`wired`) is every one of its dependencies resolved? Once it was,
        reads up to STEADY seconds old answer for it."""
        agent_id = self.agent_id(agent)
        seen_for: list[float | None] = []  # the process start it was last seen registered for

        async def registered() -> bool:
            start = started()
            if seen_for and seen_for[-1] == start:
                fresh = await self._registered_in(agent_id, start, STEADY, 0.0, wired, complete=True)
            else:  # not seen yet: watch for it a while, so `healthy` follows registration closely
                fresh = await self._registered_in(agent_id, start, FAST, PATIENCE, wired)
            seen_for[:] = [start] if fresh else []
            return fresh

        return registered

    async def _registered_in(self, agent_id: str, start: float | None, max_age: float, patience: float,
                             wired: bool = False, complete: bool = False) -> bool:
        """Whether a read (up to `max_age` old) shows it registered since `start`
        (and, `wired`, with every dependency resolved), reading again every
        FAST seconds for up to `patience` seconds.

        The registry lists a new registration a moment before its
        dependencies, so a listing with none counts as wired only when a read
        taken FAST later still lists none (the registry stores both within one
        request, in milliseconds), or when this registration's listing is
        known `complete` (seen before)."""
        give_up = time.monotonic() + patience
        listed_bare_at: float | None = None  # when a read listed it registered with no dependencies
        while True:
            taken = await poller(self._url()).read(max_age)
            if taken is not None and taken.registered_since(agent_id, start):
                info = taken.agents[agent_id]
                if not wired or (info.resolutions and info.wired) or (complete and not info.resolutions):
                    return True
                if not info.resolutions:
                    if listed_bare_at is None:
                        listed_bare_at, max_age = taken.taken_at, FAST  # the confirming read is a new one
                    elif taken.taken_at - listed_bare_at >= FAST:
                        return True
                    await anyio.sleep(FAST)
                    continue
            listed_bare_at = None
            if time.monotonic() >= give_up:
                return False
            await anyio.sleep(FAST)

    def _url(self) -> str:
        # Planning always decides a URL (flags, env or the default) before agents run.
        if self.url is None:
            raise RuntimeError("no registry URL was decided for this project")
        return self.url
