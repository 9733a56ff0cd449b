"""Health probes against real servers and real commands, and the monitor's
compose-style accounting of start_period, retries and changes."""

from __future__ import annotations

import base64
import http.server
import os
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from meshcompose.errors import ConfigError
from meshcompose.model import Healthcheck, HealthKind
from meshcompose.proc import process
from meshcompose.runtime.health import LogMatcher, Probe, check_once, monitor, split_host_port


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ENV = dict(os.environ)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/private":  # basic auth, as a URL's user:password@ asks for it
            granted = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"probe:s3cret").decode()
            self.send_response(200 if granted else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        codes = {"/ok": 200, "/created?x=1": 201, "/moved": 302, "/missing": 404, "/broken": 500}
        code = codes.get(self.path, 404)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "http://192.0.2.1/never-followed")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hc(kind: HealthKind, target: str = "", **kw) -> Healthcheck:
    return Healthcheck(kind=kind, target=target, **kw)


async def probe(check: Healthcheck, tmp_path: Path, **kw) -> bool:
    return (await check_once(check, cwd=tmp_path, env=ENV, **kw)).healthy


async def reason(check: Healthcheck, tmp_path: Path, **kw) -> str | None:
    answer = await check_once(check, cwd=tmp_path, env=ENV, **kw)
    assert not answer.healthy
    return answer.reason


@pytest.mark.anyio
async def test_a_failing_probe_says_why(http_url, tmp_path):
    """The reason `ps` and the log stream show: what a user would check next."""
    closed = f"http://127.0.0.1:{free_port()}/"
    assert await reason(hc(HealthKind.HTTP, http_url + "/broken", timeout=5), tmp_path) == (
        f"HTTP 500 from {http_url}/broken")
    assert await reason(hc(HealthKind.HTTP, closed, timeout=5), tmp_path) == f"connection refused at {closed}"
    port = free_port()
    assert await reason(hc(HealthKind.TCP, f"127.0.0.1:{port}", timeout=5), tmp_path) == (
        f"connection refused at 127.0.0.1:{port}")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        silent = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        assert await reason(hc(HealthKind.HTTP, silent, timeout=0.3), tmp_path) == f"timed out after 0.3s at {silent}"
    assert await reason(cmd("curlx-no-such-program", "-f", "http://x"), tmp_path) == (
        "command not found: curlx-no-such-program")
    failing = cmd(sys.executable, "-c", "import sys; print('noise'); sys.stderr.write('db is down\\n'); sys.exit(3)")
    assert await reason(failing, tmp_path) == "exit code 3: db is down"
    slow = cmd(sys.executable, "-c", "import time; time.sleep(30)", timeout=0.3)
    assert (await reason(slow, tmp_path)).startswith("timed out after 0.3s: ")


# -- http ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path, healthy",
    [("/ok", True), ("/created?x=1", True), ("/moved", True), ("/missing", False), ("/broken", False)],
)
async def test_http_2xx_and_3xx_are_healthy(http_url, tmp_path, path, healthy):
    assert await probe(hc(HealthKind.HTTP, http_url + path, timeout=5), tmp_path) is healthy


@pytest.mark.anyio
async def test_http_credentials_in_the_url_are_sent(http_url, tmp_path):
    with_credentials = http_url.replace("http://", "http://probe:s3cret@") + "/private"
    assert await probe(hc(HealthKind.HTTP, with_credentials, timeout=5), tmp_path) is True
    assert await reason(hc(HealthKind.HTTP, http_url + "/private", timeout=5), tmp_path) == (
        f"HTTP 401 from {http_url}/private")


@pytest.mark.anyio
async def test_http_probes_ask_the_agent_directly_never_a_proxy(http_url, tmp_path, monkeypatch):
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert await probe(hc(HealthKind.HTTP, http_url + "/ok", timeout=5), tmp_path) is True


@pytest.mark.anyio
async def test_http_refused_connection_and_bad_url_are_unhealthy(tmp_path):
    assert not await probe(hc(HealthKind.HTTP, f"http://127.0.0.1:{free_port()}/"), tmp_path)
    assert not await probe(hc(HealthKind.HTTP, "ftp://127.0.0.1/"), tmp_path)


@pytest.mark.anyio
async def test_http_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        began = time.monotonic()
        assert not await probe(hc(HealthKind.HTTP, url, timeout=0.5), tmp_path)
        assert time.monotonic() - began < 3


@pytest.mark.anyio
async def test_http_non_http_answer_is_unhealthy(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_garbage() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        assert not await probe(hc(HealthKind.HTTP, url, timeout=5), tmp_path)
        thread.join(5)


# -- tcp ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tcp_connects_to_a_listener_and_not_to_a_closed_port(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert await probe(hc(HealthKind.TCP, f"127.0.0.1:{listener.getsockname()[1]}"), tmp_path)
    assert not await probe(hc(HealthKind.TCP, f"127.0.0.1:{free_port()}"), tmp_path)
    assert not await probe(hc(HealthKind.TCP, "no-port-here"), tmp_path)


def test_split_host_port():
    assert split_host_port("localhost:80") == ("localhost", 80)
    assert split_host_port("[::1]:8080") == ("::1", 8080)
    with pytest.raises(ValueError):
        split_host_port("localhost")


# -- cmd ----------------------------------------------------------------------------


def cmd(*argv: str, timeout: float = 5.0) -> Healthcheck:
    return Healthcheck(kind=HealthKind.CMD, command=argv, timeout=timeout)


@pytest.mark.anyio
async def test_cmd_exit_zero_is_healthy(tmp_path):
    assert await probe(cmd(sys.executable, "-c", "print('x' * 200000)"), tmp_path)
    assert not await probe(cmd(sys.executable, "-c", "raise SystemExit(1)"), tmp_path)
    assert not await probe(cmd(str(tmp_path / "no-such-probe")), tmp_path)


@pytest.mark.anyio
async def test_cmd_runs_in_cwd_with_env(tmp_path):
    script = "import os, sys; sys.exit(0 if os.getcwd() == sys.argv[1] and os.environ['X'] == 'y' else 1)"
    check = cmd(sys.executable, "-c", script, str(tmp_path))
    assert await check_once(check, cwd=tmp_path, env={**ENV, "X": "y"})
    assert not await check_once(check, cwd=tmp_path, env={**ENV, "X": "n"})


@pytest.mark.anyio
async def test_cmd_killed_on_timeout_leaving_no_process(tmp_path):
    pidfile = tmp_path / "probe.pid"
    body = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    began = time.monotonic()
    assert not await probe(cmd(sys.executable, "-c", body, timeout=0.5), tmp_path)
    assert time.monotonic() - began < 3.5  # killed after the timeout, not after 60 s
    left = process.identity(int(pidfile.read_text()))
    assert left is None or not process.is_alive(left)


@pytest.mark.anyio
async def test_cmd_leaves_no_detached_background_process(tmp_path):
    pidfile = tmp_path / "bg.pid"
    body = textwrap.dedent(f"""
        import subprocess, sys
        bg = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        open({str(pidfile)!r}, "w").write(str(bg.pid))
    """)
    assert await probe(cmd(sys.executable, "-c", body), tmp_path)
    left = process.identity(int(pidfile.read_text()))
    assert left is None or not process.is_alive(left)


# -- log and registry ----------------------------------------------------------------


def test_log_matcher_matches_once_and_stays():
    matcher = LogMatcher(r"listening on \d+")
    assert matcher.feed("booting") is False
    assert matcher.feed("listening on 8080") is True
    assert matcher.feed("anything later") is True


def test_log_matcher_rejects_a_bad_regex():
    with pytest.raises(ConfigError) as caught:
        LogMatcher("([unclosed")
    assert "([unclosed" in caught.value.message


@pytest.mark.anyio
async def test_registry_probe_result_timeout_and_errors(tmp_path):
    check = hc(HealthKind.REGISTRY, timeout=0.3)

    async def yes() -> bool:
        return True

    async def hangs() -> bool:
        await anyio.sleep(60)
        return True

    async def breaks() -> bool:
        raise OSError("connection refused")

    assert await probe(check, tmp_path, registry_probe=yes)
    assert not await probe(check, tmp_path, registry_probe=hangs)
    assert not await probe(check, tmp_path, registry_probe=breaks)
    with pytest.raises(ValueError):
        await probe(check, tmp_path)


# -- monitor -----------------------------------------------------------------------


class Script:
    """A registry probe that answers from a list, then keeps the last answer."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def run_monitor(check: Healthcheck, tmp_path: Path, until: int, **kw) -> list[bool]:
    """Runs `monitor` until `until` changes were reported (or 5 s passed)."""
    changes: list[bool] = []
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:
            def on_change(probe: Probe) -> None:
                changes.append(probe.healthy)
                if len(changes) >= until:
                    tg.cancel_scope.cancel()

            tg.start_soon(lambda: monitor(check, cwd=tmp_path, env=ENV, on_change=on_change, **kw))
    return changes


@pytest.mark.anyio
async def test_monitor_reports_only_changes(tmp_path):
    answers = Script([False, True, True, False, True, False, False, False, True])
    check = hc(HealthKind.REGISTRY, interval=0.01, retries=2)
    changes = await run_monitor(check, tmp_path, until=3, registry_probe=answers)
    # one failure (of two allowed) never reports; three in a row do
    assert changes == [True, False, True]
    assert answers.calls == 9


@pytest.mark.anyio
async def test_monitor_ignores_failures_during_start_period(tmp_path):
    answers = Script([False])
    check = hc(HealthKind.REGISTRY, interval=0.05, retries=1, start_period=0.5)
    began = time.monotonic()
    changes = await run_monitor(check, tmp_path, until=1, registry_probe=answers)
    assert changes == [False]
    assert time.monotonic() - began >= 0.5
    assert answers.calls >= 5  # it kept probing through the start period


@pytest.mark.anyio
async def test_monitor_becomes_healthy_when_a_tcp_listener_appears(tmp_path):
    port = free_port()
    check = hc(HealthKind.TCP, f"127.0.0.1:{port}", interval=0.05, retries=100)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))

        async def listen_later() -> None:
            await anyio.sleep(0.3)
            listener.listen()

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen_later)
            began = time.monotonic()
            changes = await run_monitor(check, tmp_path, until=1)
        assert changes == [True] and time.monotonic() - began >= 0.3


@pytest.mark.anyio
async def test_monitor_log_kind_reports_healthy_once_a_line_matches(tmp_path):
    matcher = LogMatcher("ready")
    check = hc(HealthKind.LOG, "ready")

    async def feed_later() -> None:
        matcher.feed("starting")
        await anyio.sleep(0.2)
        matcher.feed("server ready")

    async with anyio.create_task_group() as tg:
        tg.start_soon(feed_later)
        changes = await run_monitor(check, tmp_path, until=1, log_matcher=matcher)
    assert changes == [True]
    assert await probe(check, tmp_path, log_matcher=matcher)
