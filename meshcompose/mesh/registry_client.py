"""Reading the MCP Mesh registry over HTTP: health, the agent list, waiting.

Standard library only (urllib in the calling thread; the async variants run it
in a worker thread), so `ps` pays no import cost and adds no dependency.
Every read has a short timeout and never raises: a dead or wedged registry
reads as "not healthy" / "no answer", because `ps` must never hang or crash
on it.

Shapes, observed with mcp-mesh-registry 3.7.1 and the mcp-mesh 3.7.1 SDK:

`GET /health` → 200
    {"service": "mcp-mesh-registry", "status": "healthy",
     "timestamp": "...Z", "uptime_seconds": 7, "version": "1.0.0"}

`GET /agents` → 200
    {"agents": [AGENT, ...] | null, "count": 2, "timestamp": "...Z"}
    `agents` is null, not [], while nothing ever registered. AGENT:
    {"id": "demo-hello", "name": "hello", "status": "healthy",
     "endpoint": "http://127.0.0.1:40011", "runtime": "python",
     "agent_type": "mcp_agent", "version": "1.0.0",
     "capabilities": [{"name": "greeting", "function_name": "hello",
                       "available": true, "tags": [], "version": "1.0.0",
                       "description": "..."},
                      {"name": "__mesh_job_status", "tags": ["mesh-jobs",
                       "framework"], ...}, ...],
     "dependencies_resolved": 1, "total_dependencies": 1,
     "dependency_resolutions": [{"capability": "greeting", "function_name": "welcome",
                                 "status": "available" | "unresolved",
                                 "provider_agent_id": "demo-hello", "mcp_tool": "hello",
                                 "endpoint": "http://127.0.0.1:40011"}] | null,
    (provider, tool and endpoint only when "available"). A dependent whose
    provider registers later resolves it at its next heartbeat; a provider
    that deregisters is replaced by another one offering the capability at
    once, or the dependency turns "unresolved".
     "created_at": "...", "last_seen": "...", ...}
    An SDK agent appears (status "healthy") 2-3 s after start. On SIGTERM it
    deregisters and stays listed with status "unhealthy"; so does an agent
    whose heartbeats stop (after the registry's 20 s default timeout).
    Every SDK agent also lists three framework capabilities (`__mesh_job_*`,
    tagged "framework"); they are not counted here.

Stale registrations: after a `kill -9` the registry keeps listing the agent
as "healthy" for 20-30 s, and a new process of that agent re-registers under
the same id with the same `created_at`. What moves is `last_seen` (RFC 3339
with nanoseconds, the registry's clock): set by the registration and by every
heartbeat (each 5 s). So a registration is fresh for a process started at T
when `last_seen`, taken back to our clock, is after T (see `Snapshot`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshcompose.errors import RegistryError

if TYPE_CHECKING:
    import urllib.request

DEFAULT_TIMEOUT = 0.5  # seconds; `ps` calls these on every run
HEALTHY = "healthy"


@dataclass(frozen=True)
class Capability:
    """One capability an agent offers, and the tool (function) that serves it."""

    name: str
    tool: str = ""
    version: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    framework: bool = False  # the SDK's own (`__mesh_job_*`, tagged "framework")


@dataclass(frozen=True)
class Resolution:
    """One dependency of an agent, as the registry resolved it (or not)."""

    capability: str
    resolved: bool
    provider_id: str = ""  # the provider's agent id; "" while unresolved
    endpoint: str = ""  # the provider's endpoint
    tool: str = ""  # the provider's tool that serves it
    function: str = ""  # the dependent's function that asked for it
    tags: tuple[str, ...] = ()  # as asked, when the registry says
    version: str = ""  # as asked, when the registry says


@dataclass(frozen=True)
class AgentInfo:
    """One agent as the registry lists it."""

    id: str
    name: str
    status: str  # "healthy" or "unhealthy" (the registry's own words)
    capabilities: int  # user capabilities, framework ones left out
    endpoint: str = ""
    dependencies_resolved: int = 0
    total_dependencies: int = 0
    last_seen: float | None = None  # epoch seconds, the registry's clock
    offers: tuple[Capability, ...] = ()  # every capability, framework ones included
    resolutions: tuple[Resolution, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY

    @property
    def wired(self) -> bool:
        """Every dependency it declared to the registry has resolved."""
        return all(resolution.resolved for resolution in self.resolutions)


@dataclass(frozen=True)
class Snapshot:
    """One `GET /agents` answer, with the registry's clock relative to ours.

    `skew` is the registry's `timestamp` minus our clock read just before the
    request was sent. The registry wrote its timestamp after that moment, so
    `skew` errs high by at most the round trip, and `last_seen - skew` errs
    early: a registration can only look older than it is, never newer. That
    is the safe direction: a stale entry is never taken for a fresh one; a
    fresh one at worst waits for its next heartbeat.
    """

    agents: dict[str, AgentInfo]
    skew: float = 0.0
    taken_at: float = 0.0  # epoch seconds on our clock, just before the request

    def registered_since(self, agent_id: str, started: float | None) -> bool:
        """Listed healthy, and (when `started` is given, epoch seconds on our
        clock) seen by the registry after that moment."""
        info = self.agents.get(agent_id)
        if info is None or not info.healthy:
            return False
        if started is None:
            return True
        return info.last_seen is not None and info.last_seen - self.skew >= started


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def parse_time(value: Any) -> float | None:
    """Epoch seconds from the registry's RFC 3339 times (nanoseconds, `Z`); None if unreadable."""
    from datetime import datetime, timezone

    match = _RFC3339.match(value) if isinstance(value, str) else None
    if not match:
        return None
    whole, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(whole + (zone if zone and zone != "Z" else "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or timezone.utc).timestamp() + float(fraction or 0)


_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


@functools.cache
def _opener(host: str) -> urllib.request.OpenerDirector:
    """No proxy for a loopback registry: an http_proxy meant for the outside
    world would otherwise swallow requests to 127.0.0.1. (urllib is imported
    here, not at the top: it costs ~25 ms, and `up` often needs no registry.)"""
    import urllib.request

    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if name in _LOOPBACK_NAMES or name.startswith("127."):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _get_json(url: str, path: str, timeout: float) -> Any | None:
    """The decoded JSON body of a 2xx answer, or None for anything else."""
    import urllib.error
    import urllib.request

    try:
        request = urllib.request.Request(url.rstrip("/") + path, headers={"Accept": "application/json"})
        with _opener(request.host).open(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                return None
            return json.loads(response.read(4 * 1024 * 1024))
    except (OSError, ValueError, urllib.error.URLError):
        # OSError covers refused, reset and timeouts; ValueError bad JSON or URL.
        return None


def health(url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when `GET /health` answers 2xx with JSON status "healthy".

    Strict on purpose: some other web server on the port that happens to
    answer /health must not be taken for a registry (and reused).
    """
    body = _get_json(url, "/health", timeout)
    return isinstance(body, dict) and body.get("status") == HEALTHY


def _is_framework(capability: Any) -> bool:
    if not isinstance(capability, dict):
        return True
    tags = capability.get("tags") or []
    return "framework" in tags or str(capability.get("name", "")).startswith("__")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(tag for tag in value if isinstance(tag, str)) if isinstance(value, list) else ()


def _capability(raw: Mapping[str, Any]) -> Capability:
    return Capability(name=_text(raw.get("name")), tool=_text(raw.get("function_name")),
                      version=_text(raw.get("version")), tags=_tags(raw.get("tags")),
                      description=_text(raw.get("description")), framework=_is_framework(raw))


def _resolution(raw: Mapping[str, Any]) -> Resolution:
    provider = _text(raw.get("provider_agent_id"))
    return Resolution(capability=_text(raw.get("capability")),
                      resolved=raw.get("status") == "available" and bool(provider),
                      provider_id=provider, endpoint=_text(raw.get("endpoint")), tool=_text(raw.get("mcp_tool")),
                      function=_text(raw.get("function_name")), tags=_tags(raw.get("tags")),
                      version=_text(raw.get("version")))


def parse_agent(raw: Mapping[str, Any]) -> AgentInfo | None:
    """An AgentInfo from one entry of `GET /agents`, or None if it has no id."""
    agent_id = raw.get("id")
    if not isinstance(agent_id, str) or not agent_id:
        return None
    capabilities = raw.get("capabilities") or []
    if not isinstance(capabilities, list):
        capabilities = []
    resolutions = raw.get("dependency_resolutions") or []
    if not isinstance(resolutions, list):
        resolutions = []
    return AgentInfo(
        id=agent_id,
        name=str(raw.get("name") or ""),
        status=str(raw.get("status") or "unknown"),
        capabilities=sum(1 for c in capabilities if not _is_framework(c)),
        endpoint=str(raw.get("endpoint") or ""),
        dependencies_resolved=_int(raw.get("dependencies_resolved")),
        total_dependencies=_int(raw.get("total_dependencies")),
        last_seen=parse_time(raw.get("last_seen")),
        offers=tuple(_capability(c) for c in capabilities if isinstance(c, dict)),
        resolutions=tuple(_resolution(r) for r in resolutions if isinstance(r, dict)),
    )


def agents(url: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, AgentInfo] | None:
    """Registered agents by id; None when the registry gives no usable answer.

    None (unreachable) and {} (reachable, nothing registered) differ on
    purpose: `ps` shows the first as an unknown MESH state.
    """
    taken = snapshot(url, timeout)
    return None if taken is None else taken.agents


def snapshot(url: str, timeout: float = DEFAULT_TIMEOUT) -> Snapshot | None:
    """`GET /agents` with the registry's clock skew; None when there is no usable answer."""
    before = time.time()
    return parse_snapshot(_get_json(url, "/agents", timeout), before)


def parse_snapshot(body: Any, before: float) -> Snapshot | None:
    """A Snapshot from the decoded `GET /agents` body asked at `before` (our clock); None if unusable."""
    if not isinstance(body, dict):
        return None
    listed = body.get("agents") or []
    if not isinstance(listed, list):
        return None
    found = (parse_agent(raw) for raw in listed if isinstance(raw, dict))
    now = parse_time(body.get("timestamp"))
    return Snapshot({info.id: info for info in found if info is not None},
                    skew=0.0 if now is None else now - before, taken_at=before)


def is_registered(url: str, agent_id: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when the registry lists `agent_id` with status "healthy"."""
    listed = agents(url, timeout) or {}
    info = listed.get(agent_id)
    return info is not None and info.healthy


async def ahealth(url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(health, url, timeout)


async def aagents(url: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, AgentInfo] | None:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(agents, url, timeout)


async def asnapshot(url: str, timeout: float = DEFAULT_TIMEOUT) -> Snapshot | None:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(snapshot, url, timeout)


async def ais_registered(url: str, agent_id: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(is_registered, url, agent_id, timeout)


async def wait_registered(
    url: str, agent_id: str, *, interval: float = 0.5, timeout: float | None = None
) -> None:
    """Return once the registry lists `agent_id` as healthy.

    Keeps polling through a registry that is down or restarting; only
    `timeout` (seconds, None: forever, i.e. until the caller cancels) ends
    the wait early, with NotRegisteredError carrying the last thing seen.
    """
    import anyio

    deadline = math.inf if timeout is None else anyio.current_time() + timeout
    while True:
        listed = await aagents(url, timeout=min(DEFAULT_TIMEOUT * 4, max(interval, DEFAULT_TIMEOUT)))
        info = (listed or {}).get(agent_id)
        if info is not None and info.healthy:
            return
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            seen = "registry not answering" if listed is None else (
                f"listed as {info.status}" if info else "not listed")
            raise NotRegisteredError(url, agent_id, timeout or 0.0, seen)
        await anyio.sleep(min(interval, remaining))


class NotRegisteredError(RegistryError):
    """An agent did not show up healthy in the registry in time."""

    def __init__(self, url: str, agent_id: str, timeout: float, seen: str) -> None:
        self.url, self.agent_id, self.timeout, self.seen = url, agent_id, timeout, seen
        super().__init__(
            f"agent '{agent_id}' did not register with the registry at {url} "
            f"within {timeout:g}s ({seen})",
            hint=f"check the agent's log, and that it uses MCP_MESH_REGISTRY_URL={url}",
        )
