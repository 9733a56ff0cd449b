"""The dashboard's door, over real HTTP to a real `mesh-compose dashboard`:
the token on every request, the Host header, same-origin changes, no CORS,
loopback only, and the token in no log file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest
from dashboard_project import start_dashboard, stop

from cli_helpers import ok

pytest.importorskip("starlette", reason="the dashboard needs the dashboard extra (starlette, uvicorn)")

PATHS = ("/", "/static/app.js", "/api/snapshot", "/api/graph", "/api/stream")


@pytest.fixture
def served(project) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    project.script("talk.py", "import time\nprint('hello from talk', flush=True)\ntime.sleep(60)\n")
    project.compose({"talk": {"script": "talk.py"}})
    ok(project.cli("up", "-d"))
    proc, url = start_dashboard(project.root)
    parts = urlsplit(url)
    try:
        yield {"root": project.root, "proc": proc, "base": f"http://{parts.netloc}", "host": parts.netloc,
               "token": parse_qs(parts.query)["token"][0], "url": url}
    finally:
        stop(proc)
        ok(project.cli("down"))


def get(served: dict[str, Any], path: str, **kwargs: Any) -> httpx.Response:
    if path == "/api/stream":  # an endless stream: the status line is all we need
        with httpx.stream("GET", served["base"] + path, timeout=10, **kwargs) as response:
            return response
    return httpx.get(served["base"] + path, timeout=10, **kwargs)


def test_the_token_is_32_random_bytes_and_the_page_needs_it(served: dict[str, Any]) -> None:
    assert len(served["token"]) >= 43  # 32 bytes, base64url
    for path in PATHS:
        assert get(served, path).status_code == 401, path
        assert get(served, path, params={"token": "wrong"}).status_code == 403, path
        assert get(served, path, params={"token": served["token"][:-1]}).status_code == 403, path
        assert get(served, path, headers={"X-Mesh-Compose-Token": "x" * 43}).status_code == 403, path
        assert get(served, path, params={"token": served["token"]}).status_code == 200, path
    assert get(served, "/api/snapshot", headers={"X-Mesh-Compose-Token": served["token"]}).status_code == 200


def test_a_foreign_host_is_refused(served: dict[str, Any]) -> None:
    port = served["host"].split(":")[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", f"127.0.0.2:{port}", f"0.0.0.0:{port}"):
        response = get(served, "/api/snapshot", params={"token": served["token"]}, headers={"Host": host})
        assert response.status_code == 403, host
    assert get(served, "/api/snapshot", params={"token": served["token"]},
               headers={"Host": f"localhost:{port}"}).status_code == 200


def test_changes_need_the_token_and_our_own_origin(served: dict[str, Any]) -> None:
    body = {"action": "restart", "names": ["talk"]}
    url = served["base"] + "/api/action"
    token = {"X-Mesh-Compose-Token": served["token"]}
    for origin in ("http://evil.example", "null", f"http://{served['host']}.evil.example", "https://" + served["host"]):
        response = httpx.post(url, json=body, headers={**token, "Origin": origin}, timeout=10)
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
    assert httpx.post(url, json=body, headers=token, timeout=10).status_code == 403  # no Origin at all
    assert httpx.post(url, json=body, headers={"Origin": served["base"]}, timeout=10).status_code == 401
    down = httpx.post(served["base"] + "/api/down", json={"confirm": True},
                      headers={**token, "Origin": "http://evil.example"}, timeout=10)
    assert down.status_code == 403
    preflight = httpx.options(url, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
                              timeout=10)
    assert "access-control-allow-origin" not in preflight.headers
    stopped = httpx.post(url, json={"action": "stop", "names": ["talk"]},
                         headers={**token, "Origin": served["base"]}, timeout=60)
    assert stopped.status_code == 200 and stopped.json() == {"ok": True, "message": "stopped: talk"}


def test_down_needs_a_confirmation(served: dict[str, Any]) -> None:
    headers = {"X-Mesh-Compose-Token": served["token"], "Origin": served["base"]}
    assert httpx.post(served["base"] + "/api/down", json={}, headers=headers, timeout=10).status_code == 400
    response = httpx.post(served["base"] + "/api/down", json={"confirm": True}, headers=headers, timeout=60)
    assert response.status_code == 200 and response.json()["ok"]
    snapshot = httpx.get(served["base"] + "/api/snapshot", params={"token": served["token"]}, timeout=10).json()
    assert snapshot["supervisor"] == "gone"


def test_every_answer_forbids_framing_and_foreign_scripts(served: dict[str, Any]) -> None:
    page = get(served, "/", params={"token": served["token"]})
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "access-control-allow-origin" not in page.headers
    assert "http://" not in page.text.replace(served["base"], "") and "https://" not in page.text  # no CDN
    refused = get(served, "/")
    assert refused.headers["x-frame-options"] == "DENY"


def test_it_listens_on_loopback_only(served: dict[str, Any]) -> None:
    addresses = {conn.laddr for conn in psutil.Process(served["proc"].pid).net_connections(kind="inet")
                 if conn.status == psutil.CONN_LISTEN}
    assert addresses and all(address.ip == "127.0.0.1" for address in addresses)


def test_the_token_is_in_no_log_file(served: dict[str, Any]) -> None:
    for path in PATHS:  # requests that carry it, and a refused one
        get(served, path, params={"token": served["token"]})
    get(served, "/api/snapshot", params={"token": served["token"]}, headers={"Host": "evil.example"})
    token = served["token"].encode()
    files = [path for path in Path(served["root"]).rglob("*") if path.is_file()]
    assert any(path.suffix == ".log" for path in files)  # the agent's log is among them
    found = [str(path) for path in files if token in path.read_bytes()]
    assert found == []


def test_ctrl_c_ends_it_promptly_with_a_page_connected(served: dict[str, Any]) -> None:
    import signal
    import socket

    with socket.create_connection(("127.0.0.1", int(served["host"].split(":")[1])), timeout=10) as stream:
        stream.sendall(f"GET /api/stream?token={served['token']} HTTP/1.1\r\nHost: {served['host']}\r\n\r\n".encode())
        received = b""
        while b"event: snapshot" not in received:
            received += stream.recv(65536)
        served["proc"].send_signal(signal.SIGINT)
        assert served["proc"].wait(10) == 130  # as every command ends on Ctrl+C; the open stream did not hold it
    assert "Traceback" not in (Path(served["root"]) / "dashboard.err").read_text()
