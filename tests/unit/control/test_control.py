"""The control protocol over real sockets: a server in a background event
loop (anyio's blocking portal), the real synchronous client."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import anyio
import pytest
from anyio.from_thread import start_blocking_portal

from meshcompose.control import protocol, state
from meshcompose.control.paths import socket_path
from meshcompose.errors import ControlError, MeshComposeError, NotRunningError

posix_only = pytest.mark.skipif(os.name != "posix", reason="unix sockets")


async def handler(request: dict) -> dict:
    op = request["op"]
    if op == "echo":
        return {"echo": request}
    if op == "refuse":
        raise MeshComposeError("no agent named 'x'", hint="agents: a, b")
    if op == "crash":
        raise RuntimeError("boom")
    if op == "slow":
        await anyio.sleep(float(request["seconds"]))
        return {}
    if op == "bad":
        return ["not", "a", "dict"]  # type: ignore[return-value]
    return {"unknown": op}


@pytest.fixture
def sock_path(tmp_path):
    path = socket_path(tmp_path, "demo")
    yield path
    if os.path.lexists(path):
        os.unlink(path)


@contextmanager
def serving(path: Path, **options):
    with start_blocking_portal() as portal:
        future, port = portal.start_task(partial(protocol.serve, path, handler, **options))
        try:
            yield port
        finally:
            future.cancel()


def raw_lines(path: Path, *lines: bytes) -> list[dict]:
    """Several requests on one connection, answers read in order."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        reader = sock.makefile("rb")
        answers = []
        for line in lines:
            sock.sendall(line + b"\n")
            answers.append(json.loads(reader.readline()))
        return answers


@posix_only
def test_requests_are_answered_and_the_socket_is_private_and_removed(sock_path):
    with serving(sock_path) as port:
        assert port is None
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700
        answer = protocol.request(sock_path, {"op": "echo", "names": ["a"]})
        assert answer == {"ok": True, "echo": {"op": "echo", "names": ["a"]}}
    assert not os.path.lexists(sock_path)


@posix_only
def test_one_connection_carries_several_requests_and_survives_bad_ones(sock_path):
    with serving(sock_path):
        answers = raw_lines(sock_path, b'{"op": "echo"}', b"{oops", b"[1]", b'{"op": "crash"}',
                            b'{"op": "bad"}', b'{"op": "echo", "n": 2}')
    assert answers[0]["ok"] is True
    assert answers[1]["ok"] is False and "not JSON" in answers[1]["error"]
    assert answers[2]["ok"] is False and '"op"' in answers[2]["error"]
    assert answers[3] == {"ok": False, "error": "crash failed: RuntimeError: boom", "hint": None}
    assert answers[4]["ok"] is False and "list" in answers[4]["error"]
    assert answers[5]["echo"]["n"] == 2


@posix_only
def test_a_refusal_reaches_the_client_with_its_hint(sock_path):
    with serving(sock_path):
        with pytest.raises(ControlError) as caught:
            protocol.request(sock_path, {"op": "refuse"})
        assert caught.value.message == "no agent named 'x'" and caught.value.hint == "agents: a, b"
        unchecked = protocol.request(sock_path, {"op": "refuse"}, check=False)
        assert unchecked["ok"] is False


@posix_only
def test_a_stale_socket_is_replaced_and_a_live_one_is_not(sock_path):
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock_path))
    stale.close()  # the file stays, as after a SIGKILL
    with pytest.raises(NotRunningError, match="is not running"):
        protocol.request(sock_path, {"op": "echo"})
    with serving(sock_path):
        assert protocol.request(sock_path, {"op": "echo"})["ok"]
        with pytest.raises(ControlError, match="another supervisor"), serving(sock_path):
            pass
        assert protocol.request(sock_path, {"op": "echo"})["ok"]  # the first one still serves


def test_no_socket_or_no_supervisor_is_not_running(tmp_path):
    with pytest.raises(NotRunningError):
        protocol.request(tmp_path / "absent.sock", {"op": "echo"})
    doc = state.new_document("demo", tmp_path, [])
    with pytest.raises(NotRunningError, match="project 'demo' is not running"):
        protocol.request(doc, {"op": "echo"})


@posix_only
def test_a_slow_supervisor_is_a_control_error_not_a_hang(sock_path):
    with serving(sock_path):
        started = time.monotonic()
        with pytest.raises(ControlError, match="did not answer 'slow' within 0.3s"):
            protocol.request(sock_path, {"op": "slow", "seconds": 5}, timeout=0.3)
        assert time.monotonic() - started < 3


def supervisor_doc(tmp_path: Path, path: Path, port, token: str) -> dict:
    doc = state.new_document("demo", tmp_path, [])
    doc["supervisor"] = {"pid": os.getpid(), "create_time": 0.0, "started_at": 0.0, "socket": str(path),
                         "token": token, "port": port, "detached": False}
    return doc


@pytest.mark.parametrize("use_tcp", [True, False], ids=["tcp", "unix"])
def test_with_a_token_every_request_must_carry_it(tmp_path, sock_path, use_tcp):
    if not use_tcp and os.name != "posix":
        pytest.skip("unix sockets")
    token = "5e" * 16
    with serving(sock_path, use_tcp=use_tcp, token=token) as port:
        assert (port is not None) == use_tcp
        doc = supervisor_doc(tmp_path, sock_path, port, token)
        assert protocol.request(doc, {"op": "echo"})["echo"] == {"op": "echo"}  # token not passed on
        with pytest.raises(ControlError, match="wrong token"):
            protocol.request(doc, {"op": "echo"}, token="0" * 32)
        with pytest.raises(ControlError, match="wrong token"):
            protocol.request(supervisor_doc(tmp_path, sock_path, port, ""), {"op": "echo"})


def test_tcp_without_a_token_is_refused(sock_path):
    with pytest.raises(ValueError, match="token"):
        anyio.run(lambda: protocol.serve(sock_path, handler, use_tcp=True))


@pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="SO_PEERCRED is Linux-only")
def test_only_the_owner_may_control(sock_path):
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert protocol.peer_uid(left) == os.getuid()
    with serving(sock_path, owner_uid=os.getuid() + 1):
        with pytest.raises(ControlError, match=f"uid {os.getuid()} does not own"):
            protocol.request(sock_path, {"op": "echo"})


@posix_only
def test_the_supervisor_pattern_tg_start_then_requests_from_a_thread(sock_path):
    async def main() -> dict:
        async with anyio.create_task_group() as tg:
            port = await tg.start(protocol.serve, sock_path, handler)
            answer = await anyio.to_thread.run_sync(protocol.request, sock_path, {"op": "echo"})
            tg.cancel_scope.cancel()
        return {"port": port, **answer}

    assert anyio.run(main) == {"port": None, "ok": True, "echo": {"op": "echo"}}
    assert not os.path.lexists(sock_path)
