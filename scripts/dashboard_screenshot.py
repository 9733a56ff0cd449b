"""Makes docs/images/dashboard.png: the browser tests' four-agent project
run with `up -d`, its dashboard opened in Debian's Chromium by the same code
the tests use (tests/support/dashboard_project.py), once every agent is on
the page and the crash-looping one has restarted.

    .venv-test/bin/python scripts/dashboard_screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from dashboard_project import (  # noqa: E402 (found through the path set above)
    cli,
    launch,
    open_page,
    settle_for_picture,
    start_dashboard,
    stop,
    wait_js,
    write_project,  # noqa: E402
)


def main() -> int:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "dashboard.png"
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="dash-shot-") as where:
        root = Path(where)
        write_project(root, name="shop")
        up = cli(root, "up", "-d")
        try:
            sys.stderr.write(up.stderr)
            dashboard, url = start_dashboard(root)
            try:
                with sync_playwright() as playwright:
                    browser = launch(playwright)
                    try:
                        page = open_page(browser, url, width=1400, height=1050)
                        settle_for_picture(page)
                        wait_js(page, "Number(document.querySelector("
                                      "'tr[data-agent=flaky] td[data-col=restarts]').textContent) >= 2", timeout=60)
                        page.screenshot(path=str(output), full_page=True)
                    finally:
                        browser.close()
            finally:
                stop(dashboard)
        finally:
            cli(root, "down")
    sys.stdout.write(f"wrote {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
