"""The dashboard's budgets, on their own (not part of run.py):

- first load: from navigation to every agent's row on the page, in Debian's
  Chromium, for each project size (budget: 300 ms at 50 agents, 1 s at 200);
- a state change reaching the page: an agent SIGKILLed, until its row says so
  (budget: 1 s);
- the supervisor's RSS before the dashboard and while a page is connected
  (budget: unchanged), and the dashboard process's own RSS.

    .venv-test/bin/python benchmarks/bench_dashboard.py [--agents 50,200] [--loads 5]

Each size runs a fresh project of idle agents with `up -d`, then `down`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from dashboard_project import cli, launch, start_dashboard, stop, wait_js  # noqa: E402 (the path set above)

FIRST_LOAD_BUDGET = {50: 0.300, 200: 1.0}
CHANGE_BUDGET = 1.0
IDLE = "import time\nwhile True:\n    time.sleep(3600)\n"


def write_project(root: Path, count: int) -> None:
    (root / "idle.py").write_text(IDLE)
    agents: dict[str, dict[str, object]] = {}
    for index in range(count):
        agent: dict[str, object] = {"script": "idle.py"}
        if index >= 5:  # a graph with edges: each agent after the first five needs one of them
            agent["depends_on"] = [f"agent{index % 5:03d}"]
        agents[f"agent{index:03d}"] = agent
    doc = {"name": f"dash{count}", "python": {"interpreter": sys.executable}, "agents": agents}
    (root / "mesh-compose.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def supervisor_pid(root: Path, project: str) -> int:
    state = json.loads((root / ".mesh-compose" / project / "state.json").read_text())
    return int(state["supervisor"]["pid"])


def first_load(browser: object, url: str, count: int) -> float:
    """Seconds from navigation start to `count` rows on the page (the page's own clock)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        page.goto(url, wait_until="commit")
        wait_js(page, f"document.querySelectorAll('#agents tbody tr').length >= {count}", timeout=30)
        # polled from Python every 50 ms; the page marks the moment itself (since navigation start)
        return float(page.evaluate("performance.getEntriesByName('first-rows')[0].startTime")) / 1000
    finally:
        page.close()


def snapshot_time(url: str) -> float:
    """Seconds for the server to compute and send a fresh snapshot (ps's rows and the timeline): the
    shared one is older than its 2 s limit after the pause, so this request computes it again."""
    import httpx

    api = url.replace("/?token=", "/api/snapshot?token=")
    times = []
    for _ in range(3):
        time.sleep(2.2)
        started = time.perf_counter()
        httpx.get(api, timeout=30).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def change_latency(browser: object, url: str, root: Path, project: str) -> float:
    """Seconds from an agent's SIGKILL until its row leaves `running` (epoch clocks of both sides)."""
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url)
        wait_js(page, "document.querySelector('tr[data-agent=agent001]')?.dataset.state === 'running'", timeout=30)
        page.evaluate("""new MutationObserver((changes, observer) => {
            const row = document.querySelector('tr[data-agent=agent001]');
            if (row.dataset.state !== 'running') { window.__changed = performance.timeOrigin + performance.now();
                                                   observer.disconnect(); }
        }).observe(document.querySelector('tr[data-agent=agent001]'), {attributes: true})""")
        state = json.loads((root / ".mesh-compose" / project / "state.json").read_text())
        pid = state["agents"]["agent001"]["pid"]
        killed = time.time()
        os.kill(pid, signal.SIGKILL)
        wait_js(page, "window.__changed !== undefined", timeout=30)
        return float(page.evaluate("window.__changed")) / 1000 - killed
    finally:
        page.close()


def measure(count: int, loads: int, playwright: object) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"bench-dash-{count}-") as where:
        root = Path(where)
        write_project(root, count)
        project = f"dash{count}"
        up = cli(root, "up", "-d", "--wait-timeout", "300", timeout=600)
        if up.returncode != 0:
            raise SystemExit(f"up -d failed:\n{up.stderr}")
        try:
            supervisor = supervisor_pid(root, project)
            time.sleep(2)
            before = rss(supervisor)
            dashboard, url = start_dashboard(root)
            try:
                browser = launch(playwright)  # type: ignore[arg-type]
                try:
                    times = [first_load(browser, url, count) for _ in range(loads)]
                    after = rss(supervisor)
                    own = rss(dashboard.pid)
                    snapshot = snapshot_time(url)
                    change = change_latency(browser, url, root, project)
                finally:
                    browser.close()
            finally:
                stop(dashboard)
        finally:
            cli(root, "down", timeout=600)
    return {"agents": count, "first_load_s": statistics.median(times), "first_load_all_s": times,
            "change_s": change, "snapshot_s": snapshot, "supervisor_rss_before": before, "supervisor_rss_with_page": after,
            "dashboard_rss": own}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="50,200", help="project sizes (default 50,200)")
    parser.add_argument("--loads", type=int, default=5, help="page loads per size; the median is reported")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        for count in (int(item) for item in options.agents.split(",")):
            print(f"dashboard, {count} agents…", file=sys.stderr, flush=True)
            results.append(measure(count, options.loads, playwright))
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
    print("| agents | first load (median) | budget | state change on the page | a fresh snapshot on the server "
          "| supervisor RSS before / with a page | dashboard RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        count = int(result["agents"])  # type: ignore[arg-type]
        budget = FIRST_LOAD_BUDGET.get(count)
        mib = 1024 * 1024
        print(f"| {count} | {result['first_load_s'] * 1000:.0f} ms | "  # type: ignore[operator]
              f"{f'{budget * 1000:.0f} ms' if budget else '-'} | {result['change_s'] * 1000:.0f} ms (budget "  # type: ignore[operator]
              f"{CHANGE_BUDGET * 1000:.0f} ms) | {result['snapshot_s'] * 1000:.0f} ms | "  # type: ignore[operator]
              f"{result['supervisor_rss_before'] / mib:.1f} / "  # type: ignore[operator]
              f"{result['supervisor_rss_with_page'] / mib:.1f} MiB | {result['dashboard_rss'] / mib:.1f} MiB |")  # type: ignore[operator]
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
