"""Readiness and health probes: http, tcp, cmd, log line, registry.

`check_once` runs one probe and answers healthy or not, and why not (a
refused connection, `HTTP 503 from URL`, a timeout, a command's exit code and
the end of its stderr); it never raises for a failing target. `monitor` runs
probes for the life of an agent and reports changes through a callback,
compose-style: failures during `start_period` do not count, `retries`
consecutive failures make it unhealthy.
"""

from __future__ import annotations

import errno
import re
import shutil
import ssl
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
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

# How much of a failing probe command's stderr the reason keeps.
STDERR_TAIL_CHARS = 200
_STDERR_KEEP_BYTES = 8192


@dataclass(frozen=True)
class Probe:
    """One probe's answer: healthy or not, and why not. True when healthy."""

    healthy: bool
    reason: str | None = None  # "HTTP 503 from http://...", "command not found: curlx"

    def __bool__(self) -> bool:
        return self.healthy


HEALTHY = Probe(True)


class _Unhealthy(Exception):
    """A network probe's answer that is not healthy, with its reason."""


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
) -> Probe:
    """One probe, bounded by `check.timeout`: healthy, or why not."""
    if check.kind is HealthKind.LOG:
        matched = _require(log_matcher, "log_matcher", check).matched
        return HEALTHY if matched else Probe(False, f"no output line matched {check.target!r} yet")
    if check.kind is HealthKind.CMD:
        return await _probe_cmd(check.command, cwd, env, check.timeout)
    probe = _network_probe(check, registry_probe)
    where = check.target if check.kind is not HealthKind.REGISTRY else "the registry"
    with anyio.move_on_after(check.timeout):
        try:
            return await probe()
        except _Unhealthy as answer:
            return Probe(False, str(answer))
        except OSError as error:
            return Probe(False, f"{_os_reason(error)} at {where}")
        except (ValueError, MeshComposeError) as error:
            return Probe(False, f"{getattr(error, 'message', error)} at {where}")
        except (anyio.BrokenResourceError, anyio.EndOfStream):
            return Probe(False, f"connection closed without an answer at {where}")
    return Probe(False, f"timed out after {check.timeout:g}s at {where}")


def _os_reason(error: OSError) -> str:
    """`connection refused`, not `[Errno 111] Connect call failed ('127.0.0.1', 9)`."""
    if isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED:
        return "connection refused"
    if "all connection attempts failed" in str(error).lower():  # anyio, after trying every address
        return "connection refused"
    return (error.strerror or str(error) or type(error).__name__).lower()


def _network_probe(check: Healthcheck, registry_probe: RegistryProbe | None) -> Callable[[], Awaitable[Probe]]:
    if check.kind is HealthKind.HTTP:
        return lambda: _probe_http(check.target)
    if check.kind is HealthKind.TCP:
        return lambda: _probe_tcp(check.target)
    registered = _require(registry_probe, "registry_probe", check)

    async def probe_registry() -> Probe:
        return HEALTHY if await registered() else Probe(False, "not registered with the registry")

    return probe_registry


def _require(value: T | None, what: str, check: Healthcheck) -> T:
    if value is None:
        raise ValueError(f"a {check.kind.value} healthcheck needs {what}")
    return value


async def _probe_tcp(target: str) -> Probe:
    host, port = split_host_port(target)
    stream = await anyio.connect_tcp(host, port)
    await stream.aclose()
    return HEALTHY


def split_host_port(target: str) -> tuple[str, int]:
    """`"127.0.0.1:80"`, `"[::1]:80"`, `"localhost:80"` → (host, port)."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"tcp healthcheck target {target!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


async def _probe_http(url: str) -> Probe:
    """GET `url`; 2xx and 3xx are healthy.

    httpx: anyio-native, so cancellable at any point without a thread, and
    it speaks HTTP properly (credentials in the URL, chunked or
    keep-alive answers). It never follows a redirect and never consults
    proxy variables: the probe asks the agent, nothing in between. TLS is
    checked against the system's store. Imported only when an http
    healthcheck runs.
    """
    import httpx

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    verify = ssl.create_default_context() if parts.scheme == "https" else False
    try:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False, verify=verify, timeout=None,
                                     headers={"User-Agent": "mesh-compose"}) as client:
            status = (await client.get(url)).status_code
    except httpx.ConnectError as error:
        cause = error.__cause__
        raise cause if isinstance(cause, OSError) else ConnectionRefusedError(str(error)) from None
    except httpx.RemoteProtocolError as error:
        raise _Unhealthy(f"no HTTP answer from {url} ({error})") from None
    except httpx.HTTPError as error:
        raise _Unhealthy(f"{error or type(error).__name__} at {url}") from None
    if 200 <= status < 400:
        return HEALTHY
    raise _Unhealthy(f"HTTP {status} from {url}")


async def _probe_cmd(argv: tuple[str, ...], cwd: Path, env: Mapping[str, str], timeout: float) -> Probe:
    """Runs argv; exit 0 is healthy, else its exit code and the end of its
    stderr. Whatever it started is gone afterwards."""
    token = process.new_token()
    try:
        proc = await process.spawn(argv, cwd=cwd, env={**env, process.TOKEN_VAR: token})
    except MeshComposeError as error:  # a missing probe command is a failing probe, and says so
        if argv and shutil.which(argv[0], path=env.get("PATH")) is None and not Path(cwd, argv[0]).is_file():
            return Probe(False, f"command not found: {argv[0]}")
        return Probe(False, error.message)
    ident = process.identity(proc.pid)
    code = None
    stderr = bytearray()
    try:
        with anyio.move_on_after(timeout):
            code = await _drain_and_wait(proc, stderr)
    finally:
        with anyio.CancelScope(shield=True):
            await process.kill_tree_and_wait(ident, token)
            await proc.aclose()
    if code == 0:
        return HEALTHY
    if code is None:
        return Probe(False, f"timed out after {timeout:g}s: {' '.join(argv)}")
    tail = stderr.decode(errors="replace").strip()[-STDERR_TAIL_CHARS:]
    return Probe(False, f"exit code {code}" + (f": {tail}" if tail else ""))


async def _drain_and_wait(proc: anyio.abc.Process, stderr: bytearray) -> int:
    """Reads the probe's output so a chatty one never blocks on a full pipe;
    keeps the end of its stderr for the reason."""
    stderr_done = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_discard, proc.stdout, None, None)
        tg.start_soon(_discard, proc.stderr, stderr, stderr_done)
        code = await proc.wait()
        with anyio.move_on_after(0.5):  # its last words, unless a child keeps the pipe open
            await stderr_done.wait()
        tg.cancel_scope.cancel()
    return code


async def _discard(stream: anyio.abc.ByteReceiveStream | None, keep: bytearray | None,
                   done: anyio.Event | None) -> None:
    try:
        if stream is not None:
            async for chunk in stream:
                if keep is not None:
                    keep += chunk
                    del keep[:-_STDERR_KEEP_BYTES]
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    finally:
        if done is not None:
            done.set()


# -- monitoring -------------------------------------------------------------------


async def monitor(
    check: Healthcheck,
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_change: Callable[[Probe], None],
    log_matcher: LogMatcher | None = None,
    registry_probe: RegistryProbe | None = None,
) -> None:
    """Probes until cancelled, calling `on_change` when health changes (and,
    while unhealthy, when the reason changes: `ps` shows the latest).

    The first probe runs at once, then one per `interval` (start to start).
    The first success reports healthy; `retries` consecutive failures after
    `start_period` report unhealthy; after that only changes are reported.
    """
    if check.kind is HealthKind.LOG:
        await _require(log_matcher, "log_matcher", check).wait()
        on_change(HEALTHY)
        await anyio.sleep_forever()
    tracker = _Tracker(check, on_change, anyio.current_time())
    while True:
        began = anyio.current_time()
        probe = await check_once(
            check, cwd=cwd, env=env, registry_probe=registry_probe, log_matcher=log_matcher,
        )
        tracker.record(probe, anyio.current_time())
        interval = check.interval if tracker.reported or check.start_interval is None else check.start_interval
        await anyio.sleep(max(0.0, began + interval - anyio.current_time()))


class _Tracker:
    """Turns a sequence of probe results into reported changes."""

    def __init__(self, check: Healthcheck, on_change: Callable[[Probe], None], started: float) -> None:
        start_period = check.start_period
        if check.kind is HealthKind.REGISTRY and not start_period:
            start_period = REGISTRY_START_PERIOD  # an explicit start_period wins
        self.grace_ends = started + start_period
        self.retries = max(1, check.retries)
        self.on_change = on_change
        self.reported: Probe | None = None
        self.failures = 0

    def record(self, probe: Probe, now: float) -> None:
        if probe.healthy:
            self.failures = 0
            self._report(probe)
            return
        if now < self.grace_ends and self.reported is None:
            return  # still starting up: failures do not count yet
        self.failures += 1
        if self.failures >= self.retries:
            self._report(probe)

    def _report(self, probe: Probe) -> None:
        if self.reported != probe:
            self.reported = probe
            self.on_change(probe)
