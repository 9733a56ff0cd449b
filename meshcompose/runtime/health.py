"""Readiness and health probes: http, tcp, cmd, log line, registry.

`check_once` runs one probe and answers healthy or not; it never raises for a
failing target (a refused connection, a bad status, a crashing command are
all just "not healthy"). `monitor` runs probes for the life of an agent and
reports changes through a callback, compose-style: failures during
`start_period` do not count, `retries` consecutive failures make it unhealthy.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.abc

from meshcompose.errors import ConfigError, MeshComposeError
from meshcompose.model import Healthcheck, HealthKind
from meshcompose.proc import process

T = TypeVar("T")

RegistryProbe = Callable[[], Awaitable[bool]]

# Without an explicit start_period, an agent that has not registered since
# it started is `starting`, not
# unhealthy: SDK agents take 2-3 s on a quiet machine and far longer under
# load or after a registry retry backoff (11 s seen). Only after this long
# without a first registration (or once registered and then dropped) do
# failures count.
REGISTRY_START_PERIOD = 90.0

# Enough of a response to read the status line; the body is never needed.
_STATUS_LINE_LIMIT = 4096


class LogMatcher:
    """Watches an agent's output lines for a regex; once matched, stays matched."""

    def __init__(self, regex: str) -> None:
        try:
            self.pattern = re.compile(regex)
        except re.error as error:
            raise ConfigError(f"healthcheck log pattern {regex!r} is not a valid regex: {error}") from None
        self.matched = False
        self._event: anyio.Event | None = None

    def feed(self, line: str) -> bool:
        """Called for every output line; True once any line has matched."""
        if not self.matched and self.pattern.search(line):
            self.matched = True
            if self._event is not None:
                self._event.set()
        return self.matched

    async def wait(self) -> None:
        # The event is made lazily: a matcher may be built outside an event loop.
        if self.matched:
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


# -- one probe ------------------------------------------------------------------


async def check_once(
    check: Healthcheck,
    *,
    cwd: Path,
    env: Mapping[str, str],
    registry_probe: RegistryProbe | None = None,
    log_matcher: LogMatcher | None = None,
) -> bool:
    """One probe, bounded by `check.timeout`; True if healthy."""
    if check.kind is HealthKind.LOG:
        return _require(log_matcher, "log_matcher", check).matched
    if check.kind is HealthKind.CMD:
        return await _probe_cmd(check.command, cwd, env, check.timeout)
    probe = _network_probe(check, registry_probe)
    with anyio.move_on_after(check.timeout):
        try:
            return await probe()
        except (OSError, ValueError, MeshComposeError, anyio.BrokenResourceError, anyio.EndOfStream):
            return False
    return False


def _network_probe(check: Healthcheck, registry_probe: RegistryProbe | None) -> RegistryProbe:
    if check.kind is HealthKind.HTTP:
        return lambda: _probe_http(check.target)
    if check.kind is HealthKind.TCP:
        return lambda: _probe_tcp(check.target)
    return _require(registry_probe, "registry_probe", check)


def _require(value: T | None, what: str, check: Healthcheck) -> T:
    if value is None:
        raise ValueError(f"a {check.kind.value} healthcheck needs {what}")
    return value


async def _probe_tcp(target: str) -> bool:
    host, port = split_host_port(target)
    stream = await anyio.connect_tcp(host, port)
    await stream.aclose()
    return True


def split_host_port(target: str) -> tuple[str, int]:
    """`"127.0.0.1:80"`, `"[::1]:80"`, `"localhost:80"` → (host, port)."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"tcp healthcheck target {target!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


async def _probe_http(url: str) -> bool:
    """GET `url` with a minimal HTTP/1.1 client; 2xx and 3xx are healthy.

    Raw anyio rather than urllib: cancellable at any point without a thread,
    never follows a redirect elsewhere, never consults proxy variables.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    stream: anyio.abc.ByteStream
    if tls:
        stream = await anyio.connect_tcp(parts.hostname, port, tls=True, ssl_context=ssl.create_default_context())
    else:
        stream = await anyio.connect_tcp(parts.hostname, port)
    async with stream:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: mesh-compose\r\n"
        await stream.send((request + "Connection: close\r\n\r\n").encode("ascii", "replace"))
        return 200 <= await _read_status(stream) < 400


async def _read_status(stream: anyio.abc.ByteReceiveStream) -> int:
    received = b""
    while b"\r\n" not in received and len(received) < _STATUS_LINE_LIMIT:
        received += await stream.receive()
    fields = received.split(b"\r\n", 1)[0].split()
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        raise ValueError("not an HTTP response")
    return int(fields[1])


async def _probe_cmd(argv: tuple[str, ...], cwd: Path, env: Mapping[str, str], timeout: float) -> bool:
    """Runs argv; exit 0 is healthy. Whatever it started is gone afterwards."""
    token = process.new_token()
    try:
        proc = await process.spawn(argv, cwd=cwd, env={**env, process.TOKEN_VAR: token})
    except MeshComposeError:
        return False  # a missing probe command is a failing probe
    ident = process.identity(proc.pid)
    code = None
    try:
        with anyio.move_on_after(timeout):
            code = await _drain_and_wait(proc)
    finally:
        with anyio.CancelScope(shield=True):
            await process.kill_tree_and_wait(ident, token)
            await proc.aclose()
    return code == 0


async def _drain_and_wait(proc: anyio.abc.Process) -> int:
    """Reads and discards the probe's output so a chatty one never blocks on a full pipe."""
    async with anyio.create_task_group() as tg:
        for stream in (proc.stdout, proc.stderr):
            tg.start_soon(_discard, stream)
        code = await proc.wait()
        tg.cancel_scope.cancel()
    return code


async def _discard(stream: anyio.abc.ByteReceiveStream | None) -> None:
    if stream is None:
        return
    try:
        async for _ in stream:
            pass
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass


# -- monitoring -------------------------------------------------------------------


async def monitor(
    check: Healthcheck,
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_change: Callable[[bool], None],
    log_matcher: LogMatcher | None = None,
    registry_probe: RegistryProbe | None = None,
) -> None:
    """Probes until cancelled, calling `on_change` when health changes.

    The first probe runs at once, then one per `interval` (start to start).
    The first success reports healthy; `retries` consecutive failures after
    `start_period` report unhealthy; after that only changes are reported.
    """
    if check.kind is HealthKind.LOG:
        await _require(log_matcher, "log_matcher", check).wait()
        on_change(True)
        await anyio.sleep_forever()
    tracker = _Tracker(check, on_change, anyio.current_time())
    while True:
        began = anyio.current_time()
        healthy = await check_once(
            check, cwd=cwd, env=env, registry_probe=registry_probe, log_matcher=log_matcher,
        )
        tracker.record(healthy, anyio.current_time())
        interval = check.interval if tracker.reported or check.start_interval is None else check.start_interval
        await anyio.sleep(max(0.0, began + interval - anyio.current_time()))


class _Tracker:
    """Turns a sequence of probe results into reported changes."""

    def __init__(self, check: Healthcheck, on_change: Callable[[bool], None], started: float) -> None:
        start_period = check.start_period
        if check.kind is HealthKind.REGISTRY and not start_period:
            start_period = REGISTRY_START_PERIOD  # an explicit start_period wins
        self.grace_ends = started + start_period
        self.retries = max(1, check.retries)
        self.on_change = on_change
        self.reported: bool | None = None
        self.failures = 0

    def record(self, healthy: bool, now: float) -> None:
        if healthy:
            self.failures = 0
            self._report(True)
            return
        if now < self.grace_ends and self.reported is None:
            return  # still starting up: failures do not count yet
        self.failures += 1
        if self.failures >= self.retries:
            self._report(False)

    def _report(self, healthy: bool) -> None:
        if self.reported is not healthy:
            self.reported = healthy
            self.on_change(healthy)
