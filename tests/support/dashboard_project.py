"""A real four-agent project, its dashboard, and Debian's Chromium driven by
Playwright: shared by the browser tests and scripts/dashboard_screenshot.py
(which makes the README's picture the same way the tests see the page).

Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml

CHROMIUM = os.environ.get("MESH_COMPOSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
AGENTS = ("db", "api", "web", "flaky")
# (dependency, dependent, condition) as the file declares them
EDGES = (("db", "api", "healthy"), ("api", "web", "started"), ("db", "flaky", "started"))
SCRIPT_LINE = "<script>alert(1)</script>"

SCRIPTS = {
    "db.py": """\
        import time
        time.sleep(0.5)
        print("db ready", flush=True)
        while True:
            time.sleep(1)
    """,
    "api.py": """\
        import itertools, time
        for tick in itertools.count():
            print(f"api tick {tick}", flush=True)
            time.sleep(0.3)
    """,
    "web.py": f"""\
        import time
        print({SCRIPT_LINE!r}, flush=True)
        print("\\x1b]0;a new title\\x07\\x1b[2Jweb cleared the screen", flush=True)
        while True:
            time.sleep(1)
    """,
    "flaky.py": """\
        import time
        print("flaky starts, and will crash", flush=True)
        time.sleep(0.2)
        raise SystemExit(3)
    """,
}


def write_project(root: Path, name: str = "dash") -> Path:
    for file, body in SCRIPTS.items():
        (root / file).write_text(textwrap.dedent(body))
    doc = {
        "name": name,
        "python": {"interpreter": sys.executable},
        "agents": {
            "db": {"script": "db.py", "healthcheck": {"log": "db ready", "timeout": "20s"}},
            "api": {"script": "api.py", "depends_on": {"db": {"condition": "healthy"}}},
            "web": {"script": "web.py", "depends_on": {"api": {"condition": "started"}}},
            "flaky": {"script": "flaky.py", "restart": "always", "depends_on": {"db": {"condition": "started"}}},
        },
    }
    path = root / "mesh-compose.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cli(root: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, env=_env())


def start_dashboard(root: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`mesh-compose dashboard` in `root`, once it prints its URL (stderr goes to `dashboard.err`)."""
    with open(root / "dashboard.err", "wb") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "meshcompose", "dashboard", *args], cwd=root,
                                stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=_env())
    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + 30
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                break
            line += chunk
    if not line.startswith(b"dashboard: http://127.0.0.1:"):
        stop(proc)
        raise AssertionError(f"the dashboard did not start: {line!r} {(root / 'dashboard.err').read_text()}")
    return proc, line.decode().split(": ", 1)[1].strip()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_page(browser: Any, url: str, width: int = 1400, height: int = 1000) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#agents tbody tr")
    return page


def settle_for_picture(page: Any) -> None:
    """Every agent shown and drawn, for a screenshot that shows the page at work."""
    for name in AGENTS:
        page.wait_for_selector(f"tr[data-agent={name}]")
        page.wait_for_selector(f"#timeline .lane[data-agent={name}]")
    page.wait_for_selector("tr[data-agent=db][data-state=healthy]")
    wait_js(page, "document.querySelectorAll('#logs .line').length > 5")


def wait_js(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Until `expression` is true in the page. (Playwright's wait_for_function
    polls with eval, which the page's content security policy forbids, as it
    should; page.evaluate is not subject to it.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for: {expression}")
        page.wait_for_timeout(50)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    return env
