"""A call's latency through a real three-agent MCP Mesh chain, with tracing
off and on: median of N calls each.

    python benchmarks/bench_tracing.py [--calls 100] [--sdk PYTHON]

The chain is tests/mesh/test_mesh_tracing.py's (front -> middle -> leaf),
run by `mesh-compose up -d` with a managed registry, and once more with
`tracing: true` (a managed redis-server). Each call is one JSON-RPC POST to
front's MCP endpoint, timed from the request to the last byte of the
answer; mesh-compose is not on the call path, so the difference between the
two medians is the SDK's own cost of publishing spans. Prints the load
average at the start and the end: publish only a quiet run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "mesh"))

from test_mesh_tracing import AGENT, FRONT, LEAF, MIDDLE  # noqa: E402

from mesh_helpers import free_port, raw_agents, wait_until  # noqa: E402


def project(root: Path, sdk_python: str, tracing: bool) -> tuple[Path, str]:
    root.mkdir(parents=True)
    for name, tools in (("front", FRONT), ("middle", MIDDLE), ("leaf", LEAF)):
        (root / f"{name}.py").write_text(AGENT.format(name=name, tools=textwrap.dedent(tools)))
    url = f"http://127.0.0.1:{free_port()}"
    (root / "mesh-compose.yaml").write_text(yaml.safe_dump({
        "name": "chain", "tracing": tracing, "python": {"interpreter": sdk_python},
        "registry": {"url": url, "command": "auto"},
        "agents": {name: {"script": f"{name}.py", "healthcheck": {"registry": True}}
                   for name in ("leaf", "middle", "front")},
    }, sort_keys=False))
    return root, url


def one_call(endpoint: str) -> float:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "plan", "arguments": {}}}
    request = urllib.request.Request(endpoint.rstrip("/") + "/mcp", data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json, text/event-stream"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    elapsed = time.perf_counter() - started
    if b"front(middle(leaf" not in body:
        raise RuntimeError(f"not the chain's answer: {body[:200]!r}")
    return elapsed


def measure(root: Path, sdk_python: str, tracing: bool, calls: int) -> dict[str, object]:
    where, url = project(root, sdk_python, tracing)
    cli = [sys.executable, "-m", "meshcompose"]
    subprocess.run([*cli, "up", "-d", "--wait-timeout", "300"], cwd=where, check=True, capture_output=True)
    try:
        def wired() -> dict | None:
            listed = {agent["name"]: agent for agent in raw_agents(url).values()}
            ok = len(listed) == 3 and all(a["dependencies_resolved"] == a["total_dependencies"] for a in listed.values())
            return listed if ok else None

        endpoint = wait_until(wired, 180, "the chain to wire")["front"]["endpoint"]
        for _ in range(5):  # warm the connections and the SDK's proxies
            try:
                one_call(endpoint)
            except (OSError, RuntimeError):
                pass
        times, failures = [], 0
        for _ in range(calls):
            try:
                times.append(one_call(endpoint))
            except (OSError, RuntimeError):
                failures += 1
        return {"tracing": tracing, "calls": len(times), "failed": failures,
                "median_ms": round(statistics.median(times) * 1000, 2) if times else None}
    finally:
        subprocess.run([*cli, "down", "-t", "5"], cwd=where, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--sdk", default=str(REPO / ".mesh-stack" / "venv" / "bin" / "python"),
                        help="an interpreter that imports the mcp-mesh SDK")
    args = parser.parse_args()
    os.environ["PATH"] = f"{REPO / '.mesh-stack' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        results = [measure(Path(work) / name, args.sdk, tracing, args.calls)
                   for name, tracing in (("off", False), ("on", True))]
    off, on = results
    print(json.dumps({"load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "results": results,
                      "overhead_ms": round(on["median_ms"] - off["median_ms"], 2)
                      if on["median_ms"] is not None and off["median_ms"] is not None else None}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
