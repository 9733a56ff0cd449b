"""`up --dashboard`: the same dashboard beside a detached or foreground run,
ending with the run."""

from __future__ import annotations

import re

import httpx
import pytest

from cli_helpers import ok, wait_until

pytest.importorskip("starlette", reason="the dashboard needs the dashboard extra (starlette, uvicorn)")

URL = re.compile(r"dashboard: (http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]+))")


def refused(port: str) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    except httpx.TransportError:
        return True
    return False


def write(project) -> None:  # type: ignore[no-untyped-def]
    project.script("idle.py", "import time\nprint('idle', flush=True)\ntime.sleep(60)\n")
    project.compose({"a": {"script": "idle.py"}, "b": {"script": "idle.py", "depends_on": ["a"]}})


def test_up_detached_with_dashboard_serves_until_down(project) -> None:  # type: ignore[no-untyped-def]
    write(project)
    try:
        result = ok(project.cli("up", "-d", "--dashboard"))
        found = URL.search(result.stderr)
        assert found, result.stderr
        url, port, _ = found.groups()
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "mesh-compose dashboard" in page.text
        snapshot = httpx.get(url.replace("/?", "/api/snapshot?"), timeout=10).json()
        assert [row["Name"] for row in snapshot["rows"]] == ["a", "b"]
    finally:
        ok(project.cli("down"))
    wait_until(lambda: refused(port), timeout=15, what="the dashboard to end with the run")


def test_up_foreground_with_dashboard_stops_it_with_the_run(project) -> None:  # type: ignore[no-untyped-def]
    write(project)
    run = project.start("up", "--dashboard")
    output = run.wait_for(lambda text: URL.search(text) is not None and "idle" in text, timeout=60)
    url, port, _ = URL.search(output).groups()  # type: ignore[union-attr]
    assert httpx.get(url, timeout=10).status_code == 200
    run.interrupt()
    assert run.wait(30) in (0, 130)
    wait_until(lambda: refused(port), timeout=15, what="the dashboard to end with the foreground run")


def test_a_busy_or_impossible_port_is_a_clear_error(project) -> None:  # type: ignore[no-untyped-def]
    import socket

    write(project)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = project.cli("dashboard", "--port", str(port))
    assert result.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    result = project.cli("dashboard", "--port", "70000")
    assert result.returncode == 2 and "--port 70000" in result.stderr and "Traceback" not in result.stderr
