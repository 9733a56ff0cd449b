"""`mesh` for 20 agents, and what `call` adds to a tool's own time.

`mesh`: a state file for a project of N agents and a registry answering a
`GET /agents` of N agents (each like the real SDK's: four capabilities, three
of them the SDK's framework ones, and two resolved dependencies), served over
real HTTP on loopback; `mesh-compose mesh` is run as a user runs it (a new
process, its modules byte-compiled as a pip install leaves them) and the
in-process answer (`app.mesh.mesh`) is timed too.
Budget: the command answers within 0.3 s for 20 agents.

`call` (with --endpoint, an agent serving MCP, e.g. one of tests/mesh/three
run by hand): the in-process SDK call of TOOL, against the in-process
`app.tools.call` path minus the registry read (the extra listing round trip),
so the difference is what `call` adds to the tool's own time. Budget: 0.2 s.

    python benchmarks/bench_mesh_view.py [--agents 20] [--runs 5] [--json]
    python benchmarks/bench_mesh_view.py --endpoint http://127.0.0.1:PORT --tool ping_hello
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

from meshcompose.app.mesh import MeshOptions, mesh  # noqa: E402
from meshcompose.app.project import ProjectIdentity  # noqa: E402
from meshcompose.control import state  # noqa: E402
from meshcompose.mesh.registry import agent_id  # noqa: E402

PROJECT = "bench"


def registry_answer(count: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    framework = [{"name": f"__mesh_job_{kind}", "function_name": f"__mesh_job_{kind}", "tags": ["mesh-jobs", "framework"],
                  "version": "1.0.0", "available": True, "description": "[Framework] ..."}
                 for kind in ("status", "result", "cancel")]
    agents = []
    for index in range(count):
        resolutions = [{"capability": f"cap{(index + step) % count}", "function_name": "work", "status": "available",
                        "provider_agent_id": agent_id(PROJECT, f"a{(index + step) % count}"), "mcp_tool": "work",
                        "endpoint": f"http://127.0.0.1:{20000 + (index + step) % count}"} for step in (1, 2)]
        agents.append({"id": agent_id(PROJECT, f"a{index}"), "name": f"a{index}", "status": "healthy",
                       "endpoint": f"http://127.0.0.1:{20000 + index}", "last_seen": now, "created_at": now,
                       "capabilities": [{"name": f"cap{index}", "function_name": "work", "tags": ["bench"],
                                         "version": "1.0.0", "available": True, "description": "works"}, *framework],
                       "dependency_resolutions": resolutions, "dependencies_resolved": 2, "total_dependencies": 2})
    return json.dumps({"agents": agents, "count": count, "timestamp": now}).encode()


def serve(body: bytes) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def project_dir(root: Path, count: int, url: str) -> None:
    (root / "mesh-compose.yaml").write_text(f"name: {PROJECT}\nagents:\n" + "".join(
        f"  a{index}: {{command: [sh, -c, 'sleep 1']}}\n" for index in range(count)))
    store = state.StateStore(root, PROJECT)
    doc = state.new_document(PROJECT, root, [str(root / "mesh-compose.yaml")])
    doc["registry_url"] = url
    doc["agents"] = {f"a{index}": state.new_agent(status="running", depends_on=[f"a{(index + 1) % count}"])
                     for index in range(count)}
    store.write(doc)


def bench_mesh(count: int, runs: int) -> dict[str, float]:
    server, url = serve(registry_answer(count))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            project_dir(root, count, url)
            identity = ProjectIdentity(root, PROJECT)
            in_process = []
            for _ in range(runs):
                started = time.perf_counter()
                report = mesh(identity, MeshOptions())
                in_process.append(time.perf_counter() - started)
                assert len(report.facts.agents) == count
            command = []
            # From .pyc files, as an installed mesh-compose runs (see peers.compile_mesh_compose).
            peers.compile_mesh_compose()
            env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
            env["NO_COLOR"] = "1"
            interpreter = []  # the floor: the interpreter's own start
            for _ in range(runs):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-c", "pass"], cwd=root, env=env, timeout=60)
                interpreter.append(time.perf_counter() - started)
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "meshcompose", "mesh"], cwd=root, env=env,
                                      capture_output=True, text=True, timeout=60)
                command.append(time.perf_counter() - started)
                assert done.returncode == 0, done.stderr
    finally:
        server.shutdown()
        server.server_close()
    return {"agents": count, "in_process_median_s": statistics.median(in_process),
            "command_median_s": statistics.median(command), "python_c_pass_median_s": statistics.median(interpreter)}


def bench_call(endpoint: str, tool: str, runs: int) -> dict[str, float]:
    import anyio

    from meshcompose.mesh import mcpclient

    async def direct() -> None:  # the SDK alone: connect, initialize, call
        import mcp
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(endpoint.rstrip("/") + "/mcp") as (read, write, _), \
                mcp.ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool(tool, {})

    async def ours() -> None:  # what `call` does after its registry read
        await mcpclient.call_tool(endpoint, tool, lambda schema: {}, 30.0)

    timings: dict[str, list[float]] = {"sdk_call_s": [], "mesh_compose_call_s": []}
    for _ in range(runs):
        for name, work in (("sdk_call_s", direct), ("mesh_compose_call_s", ours)):
            started = time.perf_counter()
            anyio.run(work)
            timings[name].append(time.perf_counter() - started)
    result = {name: statistics.median(values) for name, values in timings.items()}
    result["added_s"] = result["mesh_compose_call_s"] - result["sdk_call_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--endpoint", help="an agent's MCP endpoint: measure `call` instead")
    parser.add_argument("--tool", default="ping_hello")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench_call(args.endpoint, args.tool, args.runs) if args.endpoint else bench_mesh(args.agents, args.runs)
    result["load_1min"] = os.getloadavg()[0]
    print(json.dumps(result) if args.json else "\n".join(f"{key}: {value:.3f}" if isinstance(value, float)
                                                          else f"{key}: {value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
