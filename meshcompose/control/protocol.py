"""The control protocol: JSON lines between the CLI and the running supervisor.

Request `{"op": "...", ...}`, response `{"ok": true, ...}` or
`{"ok": false, "error": "...", "hint": "..."}`; a connection may carry several
requests. POSIX serves a unix socket (0600, in a 0700 directory) and checks
the peer's uid where the kernel tells it (SO_PEERCRED on Linux). Windows
serves loopback TCP on a random port, and every request must carry the token
from the 0600 state file. The transport is chosen by one seam (`use_tcp`), so
the token check is tested on POSIX too.

The server side is anyio (it runs inside the supervisor's task group); the
client is a plain blocking socket, because the CLI sends one request and a
thread-free socket is the fastest way to do it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from meshcompose.errors import ControlError, MeshComposeError, NotRunningError

if TYPE_CHECKING:
    import anyio.abc
    from anyio.streams.buffered import BufferedByteReceiveStream

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_LINE = 1 << 20  # a request is a few hundred bytes; this bounds a hostile one
LOOPBACK = "127.0.0.1"


def default_use_tcp() -> bool:
    return sys.platform == "win32" or not hasattr(socket, "AF_UNIX")


def failure(error: str, hint: str | None = None) -> dict[str, Any]:
    return {"ok": False, "error": error, "hint": hint}


# --------------------------------------------------------------------- server


async def serve(
    path: Path,
    handler: Handler,
    *,
    token: str | None = None,
    use_tcp: bool | None = None,
    owner_uid: int | None = None,
    task_status: anyio.abc.TaskStatus[int | None] = None,  # type: ignore[assignment]
) -> None:
    """Serve `handler` until cancelled; `task_status.started(port)` reports the
    TCP port (None for a unix socket) once requests can be accepted.

    `token`: when given, every request must carry it (required for TCP).
    `owner_uid`: the uid allowed to connect (default: ours; Linux only)."""
    import anyio

    if task_status is None:
        task_status = anyio.TASK_STATUS_IGNORED
    tcp = default_use_tcp() if use_tcp is None else use_tcp
    if tcp and not token:
        raise ValueError("a TCP control endpoint needs a token")
    uid = owner_uid if owner_uid is not None else (os.getuid() if hasattr(os, "getuid") else None)
    listener, port = await _listen(Path(path), tcp)
    session = _Session(handler, token, uid)
    try:
        async with listener:
            task_status.started(port)
            await listener.serve(session.run)
    finally:
        if not tcp:
            _unlink_socket(Path(path))


async def _listen(path: Path, tcp: bool) -> tuple[anyio.abc.Listener[Any], int | None]:
    import anyio
    from anyio.abc import SocketAttribute

    if tcp:
        tcp_listener = await anyio.create_tcp_listener(local_host=LOOPBACK, local_port=0)
        return tcp_listener, tcp_listener.extra(SocketAttribute.local_port)
    _remove_stale_socket(path)
    unix_listener = await anyio.create_unix_listener(path)
    os.chmod(path, 0o600)
    return unix_listener, None


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a killed supervisor is removed; a live one is not."""
    if not os.path.lexists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise ControlError(f"another supervisor is serving {path}",
                       hint="stop it with `mesh-compose down` first")


def _unlink_socket(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class _Session:
    """One connection: check the peer, then answer requests line by line."""

    def __init__(self, handler: Handler, token: str | None, owner_uid: int | None) -> None:
        self.handler, self.token, self.owner_uid = handler, token, owner_uid

    async def run(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                await self._converse(stream)
            except Exception:  # noqa: BLE001 - one broken connection must not end the server
                pass

    async def _converse(self, stream: anyio.abc.SocketStream) -> None:
        from anyio.streams.buffered import BufferedByteReceiveStream

        refusal = self._refuse_peer(stream)
        reader = BufferedByteReceiveStream(stream)
        while True:
            line = await _receive_line(reader)
            if line is None:
                return
            if refusal:  # answered after reading, so the client sees the reason
                await _send(stream, failure(refusal))
                return
            response = await self._answer(line)
            if not await _send(stream, response):
                return

    def _refuse_peer(self, stream: anyio.abc.SocketStream) -> str | None:
        from anyio.abc import SocketAttribute

        if self.owner_uid is None:
            return None
        uid = peer_uid(stream.extra(SocketAttribute.raw_socket))
        if uid is not None and uid != self.owner_uid:
            return f"permission denied: uid {uid} does not own this project"
        return None

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError as error:
            return failure(f"invalid request: not JSON ({error})")
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return failure('invalid request: expected an object with an "op" string')
        if self.token is not None and not _token_matches(request.pop("token", None), self.token):
            return failure("permission denied: missing or wrong token")
        request.pop("token", None)
        return await self._call(request)

    async def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.handler(request)
        except MeshComposeError as error:
            return failure(error.message, error.hint)
        except Exception as error:  # noqa: BLE001 - one bad request must not end the server
            return failure(f"{request['op']} failed: {type(error).__name__}: {error}")
        if not isinstance(response, dict):
            return failure(f"{request['op']} failed: the handler returned {type(response).__name__}")
        return {"ok": True, **response}


def _token_matches(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


async def _receive_line(reader: BufferedByteReceiveStream) -> bytes | None:
    """The next line, or None when the peer is gone or sent an over-long line."""
    import anyio

    try:
        return await reader.receive_until(b"\n", MAX_LINE)
    except (anyio.IncompleteRead, anyio.DelimiterNotFound, anyio.EndOfStream,
            anyio.BrokenResourceError, anyio.ClosedResourceError):
        return None


async def _send(stream: anyio.abc.ByteSendStream, response: dict[str, Any]) -> bool:
    import anyio

    try:
        payload = json.dumps(response, default=str)
        await stream.send(payload.encode() + b"\n")
        return True
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        return False


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a unix socket, where known."""
    if getattr(sock, "family", None) != getattr(socket, "AF_UNIX", None):
        return None
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # macOS/BSD: the 0700 directory and 0600 socket guard it
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


# --------------------------------------------------------------------- client

Target = Union[str, Path, Mapping[str, Any]]


def request(
    path_or_state: Target,
    message: dict[str, Any],
    *,
    timeout: float = 5.0,
    token: str | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Send one request and return the response.

    `path_or_state` is a socket path or a state document (whose supervisor
    record gives the socket, or the TCP port and token). Raises NotRunningError
    when nothing serves the project, ControlError when the supervisor cannot
    be reached in time, and (with `check`) RefusedError, a ControlError,
    carrying the server's error and hint when the response is `{"ok": false}`."""
    endpoint = _endpoint(path_or_state, token)
    if not isinstance(path_or_state, (str, Path)):
        _check_not_stopped(path_or_state.get("supervisor") or {})
    with _connect(endpoint, timeout) as sock:
        response = _exchange(sock, {**message, **endpoint.credentials()}, timeout)
    if check and not response.get("ok"):
        raise RefusedError(str(response.get("error") or "the supervisor refused the request"),
                           hint=response.get("hint"))
    return response


class RefusedError(ControlError):
    """The supervisor answered, and said no: its reason stands (asking
    again, or around it, would not change it)."""


class SupervisorStoppedError(ControlError):
    """The supervisor is alive but stopped: asking it would only wait."""


def supervisor_stopped(pid: object, create_time: object) -> bool:
    """Whether the recorded supervisor is stopped (SIGSTOP, a debugger): it
    cannot answer until it is continued, so no request should wait for it."""
    if not isinstance(pid, int) or not isinstance(create_time, (int, float)):
        return False
    import psutil

    from meshcompose.proc.identity import ProcessIdentity, matching

    proc = matching(ProcessIdentity(pid, float(create_time)))
    try:
        return proc is not None and proc.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except psutil.Error:
        return False


def _check_not_stopped(record: Mapping[str, Any]) -> None:
    pid = record.get("pid")
    if supervisor_stopped(pid, record.get("create_time")):
        raise SupervisorStoppedError(
            f"the supervisor (pid {pid}) is stopped (SIGSTOP or a debugger): it cannot answer",
            hint=f"`kill -CONT {pid}` resumes it; `mesh-compose down` stops the project without it")


class _Endpoint:
    def __init__(self, project: str, socket_path: str | None, port: int | None,
                 token: str | None) -> None:
        self.project, self.socket_path, self.port, self.token = project, socket_path, port, token

    def credentials(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    def describe(self) -> str:
        return f"{LOOPBACK}:{self.port}" if self.port else str(self.socket_path)


def _endpoint(target: Target, token: str | None) -> _Endpoint:
    if isinstance(target, (str, Path)):
        return _Endpoint(Path(target).name, str(target), None, token)
    project = str(target.get("project") or "?")
    record = target.get("supervisor")
    if not record:
        raise NotRunningError(project)
    return _Endpoint(project, record.get("socket"), record.get("port"), token or record.get("token"))


def _connect(endpoint: _Endpoint, timeout: float) -> socket.socket:
    if endpoint.port:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address: Any = (LOOPBACK, endpoint.port)
    else:
        if not endpoint.socket_path or not os.path.exists(endpoint.socket_path):
            raise NotRunningError(endpoint.project)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = endpoint.socket_path
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        raise NotRunningError(endpoint.project, hint="its supervisor is gone; "
                              "`mesh-compose down` cleans up what it left") from None
    except OSError as error:
        sock.close()
        raise ControlError(f"cannot reach the supervisor at {endpoint.describe()}: {error}") from None
    return sock


def _exchange(sock: socket.socket, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    try:
        try:
            sock.sendall(json.dumps(message).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # it may have answered (refused) before reading: the answer says why
        return _read_response(sock, deadline)
    except socket.timeout:
        raise ControlError(f"the supervisor did not answer {message.get('op')!r} within {timeout:g}s",
                           hint="it may be busy or hung; `mesh-compose ps` shows what is known") from None
    except OSError as error:
        raise ControlError(f"the connection to the supervisor failed: {error}") from None


def _read_response(sock: socket.socket, deadline: float) -> dict[str, Any]:
    buffer = b""
    while b"\n" not in buffer:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(65536)
        if not chunk:
            raise ControlError("the supervisor closed the connection without answering")
        buffer += chunk
    try:
        response = json.loads(buffer.split(b"\n", 1)[0])
    except ValueError:
        raise ControlError("the supervisor sent an answer that is not JSON") from None
    if not isinstance(response, dict):
        raise ControlError("the supervisor sent an answer that is not an object")
    return response
