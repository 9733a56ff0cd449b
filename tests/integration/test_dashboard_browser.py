"""The dashboard in a real browser (Debian's Chromium, driven by Playwright)
against a real four-agent project run with `up -d`.

Screenshots go to $MESH_COMPOSE_ARTIFACTS/dashboard (default: the test's
temporary directory), and their paths are printed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_project import (
    AGENTS,
    CHROMIUM,
    EDGES,
    SCRIPT_LINE,
    cli,
    launch,
    open_page,
    start_dashboard,
    stop,
    wait_js,
    write_project,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (the test extra)")
if not os.access(CHROMIUM, os.X_OK):
    if os.environ.get("MESH_COMPOSE_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does)")
    pytest.skip(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does)", allow_module_level=True)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dash")
    write_project(root)
    up = cli(root, "up", "-d")
    try:
        assert "Traceback" not in up.stderr, up.stderr
        dashboard, url = start_dashboard(root)
        try:
            with sync_api.sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    yield {"root": root, "url": url, "browser": browser, "dashboard": dashboard,
                           "artifacts": _artifacts(root)}
                finally:
                    browser.close()
        finally:
            stop(dashboard)
    finally:
        cli(root, "down")


@pytest.fixture
def page(running: dict[str, Any]) -> Iterator[Any]:
    opened = open_page(running["browser"], running["url"])
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    yield opened
    opened.close()


def _artifacts(root: Path) -> Path:
    where = Path(os.environ.get("MESH_COMPOSE_ARTIFACTS", root / "artifacts")) / "dashboard"
    where.mkdir(parents=True, exist_ok=True)
    return where


def shoot(page: Any, running: dict[str, Any], name: str) -> None:
    path = running["artifacts"] / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def cell(page: Any, agent: str, column: str) -> str:
    return str(page.text_content(f"tr[data-agent={agent}] td[data-col={column}]")).strip()


def test_every_agent_is_on_the_page_in_the_graph_and_the_timeline(page: Any, running: dict[str, Any]) -> None:
    for name in AGENTS:
        page.wait_for_selector(f"tr[data-agent={name}]")
        page.wait_for_selector(f"#graph .node[data-agent={name}]")
        page.wait_for_selector(f"#timeline .lane[data-agent={name}]")
    for dependency, dependent, condition in EDGES:
        edge = page.wait_for_selector(f'#graph .edge.declared[data-from="{dependency}"][data-to="{dependent}"]')
        assert edge.text_content().startswith(condition)
    page.wait_for_selector("tr[data-agent=db][data-state=healthy]")
    assert cell(page, "db", "status") == "running (healthy)"  # ps's words
    shoot(page, running, "agents")


def test_agent_output_is_text_and_no_script_runs(page: Any, running: dict[str, Any]) -> None:
    wait_js(page, f"[...document.querySelectorAll('#logs .text')].some(n => n.textContent === {SCRIPT_LINE!r})")
    assert page.evaluate("[...document.scripts].filter(s => s.type !== 'application/json').length") == 1  # ours
    assert "<" not in page.evaluate("document.getElementById('initial').textContent")  # data, escaped
    escaped = page.evaluate("[...document.querySelectorAll('#logs .text')].map(n => n.textContent)"
                            ".find(t => t.includes('cleared the screen'))")
    assert "\x1b" not in escaped and "\x07" not in escaped and "a new title" in escaped
    assert page.title() == "mesh-compose dashboard"
    page.wait_for_timeout(300)  # a dialog would be opened synchronously by the script; give the page a moment
    assert page.dialogs == []
    shoot(page, running, "text-not-markup")


def test_logs_stream_and_the_filter_filters(page: Any, running: dict[str, Any]) -> None:
    def ticks() -> list[int]:
        texts = page.evaluate("[...document.querySelectorAll('#logs .line[data-agent=api] .text')].map(n => n.textContent)")
        return [int(text.rsplit(" ", 1)[1]) for text in texts if text.startswith("api tick ")]

    wait_js(page, "document.querySelectorAll('#logs .line[data-agent=api]').length > 0")
    first = max(ticks())
    wait_js(page, f"[...document.querySelectorAll('#logs .line[data-agent=api] .text')]"
                           f".some(n => n.textContent === 'api tick {first + 2}')")  # new lines arrive live
    page.fill("#log-filter", "alert")
    lines = page.evaluate("[...document.querySelectorAll('#logs .line')].map(n => n.textContent)")
    assert lines and all("alert" in line for line in lines)
    page.fill("#log-filter", "")
    page.check("#log-pause")
    shown = page.evaluate("document.querySelectorAll('#logs .line').length")
    time.sleep(1.0)  # api writes every 0.3 s: a paused view must not grow meanwhile
    assert page.evaluate("document.querySelectorAll('#logs .line').length") == shown
    page.uncheck("#log-pause")
    wait_js(page, f"document.querySelectorAll('#logs .line').length > {shown}")
    shoot(page, running, "logs")


def test_a_crash_looping_agent_s_restarts_rise(page: Any, running: dict[str, Any]) -> None:
    page.wait_for_selector("tr[data-agent=flaky]")
    seen = int(cell(page, "flaky", "restarts"))
    wait_js(page, f"Number(document.querySelector('tr[data-agent=flaky] td[data-col=restarts]')"
                           f".textContent) > {seen}", timeout=60)
    page.wait_for_selector("#timeline .lane[data-agent=flaky] rect.bar-restart")
    shoot(page, running, "crash-loop")


def test_clicking_restart_gives_the_agent_a_new_pid(page: Any, running: dict[str, Any]) -> None:
    page.wait_for_selector("tr[data-agent=api][data-state=running]")
    before = cell(page, "api", "pid")
    assert before.isdigit()
    page.click("tr[data-agent=api] button.act-restart")
    wait_js(page, f"(() => {{ const pid = document.querySelector('tr[data-agent=api] td[data-col=pid]')"
                           f".textContent; return /^[0-9]+$/.test(pid) && pid !== '{before}'; }})()", timeout=60)
    page.wait_for_selector("#notice:not([hidden])")
    shoot(page, running, "restarted")


def test_a_killed_agent_s_row_changes_within_2_s(page: Any, running: dict[str, Any]) -> None:
    page.wait_for_selector("tr[data-agent=web][data-state=running]")
    pid = int(cell(page, "web", "pid"))
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_js(page, "document.querySelector('tr[data-agent=web]').dataset.state !== 'running'", timeout=10)
    took = time.monotonic() - killed
    assert took < 2.0, f"the row changed {took:.2f} s after the kill"
    shoot(page, running, "killed")


def test_the_page_says_so_when_the_supervisor_is_gone(page: Any, running: dict[str, Any]) -> None:
    result = cli(running["root"], "down")
    assert result.returncode == 0, result.stderr
    page.wait_for_selector("#gone:not([hidden])", timeout=15_000)
    assert "supervisor is gone" in str(page.text_content("#gone"))
    shoot(page, running, "supervisor-gone")
