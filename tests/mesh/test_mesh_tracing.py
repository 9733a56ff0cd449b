"""Traces of real MCP Mesh calls: the real registry, the real SDK and a real
redis-server run by `tracing: true`. A three-agent chain (front -> middle ->
leaf) answers one call with one trace whose spans come from all three."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from mesh_helpers import alive, call_tool, free_port, raw_agents, wait_until

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(420)]

CHAIN = Path(__file__).parent / "chain"  # front -> middle -> leaf


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, mesh_stack):
    """One running chain for the module (it takes about a minute to wire);
    the last test takes it down."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; scripts/test.sh installs it (Debian: apt-get install redis-server)")
    project = tmp_path_factory.mktemp("tracing") / "chain"
    project.mkdir()
    for name in ("front", "middle", "leaf"):
        shutil.copy(CHAIN / f"{name}.py", project)
    url = f"http://127.0.0.1:{free_port()}"
    (project / "mesh-compose.yaml").write_text(yaml.safe_dump({
        "name": "chain", "tracing": True,
        "python": {"interpreter": str(mesh_stack.python)},
        "registry": {"url": url, "command": "auto"},
        "agents": {
            "leaf": {"script": "leaf.py", "healthcheck": {"registry": True}},
            "middle": {"script": "middle.py", "healthcheck": {"registry": True}},
            "front": {"script": "front.py", "healthcheck": {"registry": True}},
        },
    }, sort_keys=False))
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "NO_COLOR": "1"}
    env.pop("MCP_MESH_REGISTRY_URL", None)

    def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def follow(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "meshcompose", "traces", "-f", *args], cwd=project, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    up = cli("up", "-d", "--wait-timeout", "200")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        agents = wait_until(lambda: _wired(url), 120, "every dependency to resolve")
        yield cli, follow, agents, project
    finally:
        cli("down", "-t", "5")


def _wired(url: str) -> dict[str, dict] | None:
    listed = {agent["name"]: agent for agent in raw_agents(url).values()}
    wired = len(listed) == 3 and all(agent["status"] == "healthy" and
                                     agent["dependencies_resolved"] == agent["total_dependencies"]
                                     for agent in listed.values())
    return listed if wired else None


def call(endpoint: str, tool: str, arguments: dict) -> None:
    """A call whose trace is what counts: the tool runs, and its span is
    published, even when the SDK's HTTP answer comes back empty or as an
    MCP error (a tool that raises)."""
    try:
        call_tool(endpoint, tool, arguments, timeout=60)
    except (ValueError, KeyError, TypeError):
        pass


def traces(cli) -> list[dict]:
    listed = cli("traces", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_one_call_through_the_chain_is_one_trace_with_spans_from_all_three(chain):
    cli, _, agents, _ = chain
    call(agents["front"]["endpoint"], "plan", {"topic": "t"})
    (trace,) = wait_until(lambda: [t for t in traces(cli) if t["Root"] == "plan"], 30, "the call's trace")
    assert (trace["RootAgent"], trace["Failed"]) == ("front", False)
    assert set(trace["Agents"]) == {"front", "middle", "leaf"}

    shown = cli("trace", trace["TraceId"][:8], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    spans = json.loads(shown.stdout)["Spans"]
    tools = [(span["Agent"], span["Function"], span["Depth"]) for span in spans
             if span["Function"] != "proxy_call_wrapper"]
    assert tools == [("front", "plan", 0), ("middle", "middle", 2), ("leaf", "leaf", 4)]  # each call between
    by_id = {span["SpanId"]: span for span in spans}
    for span in spans:  # every span lies within its caller's time, so the durations add up
        parent = by_id.get(span["ParentId"])
        if parent is not None:
            assert span["Depth"] == parent["Depth"] + 1
            assert parent["OffsetMs"] <= span["OffsetMs"] + 0.01
            assert span["OffsetMs"] + span["DurationMs"] <= parent["OffsetMs"] + parent["DurationMs"] + 0.01
    assert json.loads(shown.stdout)["DurationMs"] == pytest.approx(spans[0]["DurationMs"], abs=0.5)
    waterfall = cli("trace", trace["TraceId"]).stdout
    assert "front" in waterfall and "middle" in waterfall and "leaf" in waterfall and "█" in waterfall


def test_a_tool_that_raises_shows_an_error_span_with_its_text(chain):
    cli, _, agents, _ = chain
    call(agents["leaf"]["endpoint"], "boom", {"item": "spoon"})
    (trace,) = wait_until(lambda: [t for t in traces(cli) if t["Root"] == "boom"], 30, "the failed call's trace")
    assert trace["Failed"] is True and "no such item: spoon" in trace["Error"]
    assert "failed" in cli("traces").stdout
    waterfall = cli("trace", trace["TraceId"]).stdout
    assert "✗" in waterfall and "no such item: spoon" in waterfall


def test_traces_follow_shows_a_new_call_as_it_ends(chain):
    cli, follow, agents, _ = chain
    following = follow()
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in following.stdout], daemon=True).start()
    try:
        header = lines.get(timeout=60)  # the listing is printed (and its position taken) first
        assert header.startswith("TRACE"), header
        call(agents["leaf"]["endpoint"], "leaf", {"topic": "f"})
        ended = time.monotonic()
        line = ""
        while "leaf.leaf" not in line:  # another call's trace may end first
            line = lines.get(timeout=30)
        seen = time.monotonic() - ended
        assert " ok" in line, line
        assert seen < 5, f"the trace took {seen:.2f}s to show"  # a generous bound: -f reads every 0.25 s
    finally:
        following.terminate()
        following.wait(10)


def test_the_dashboard_draws_each_trace_as_a_waterfall(chain):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (the test extra)")
    from dashboard_project import launch, open_page, start_dashboard, stop, wait_js

    cli, _, _, root = chain
    (newest, *_) = [t for t in traces(cli) if t["Root"] == "plan"]
    dashboard, url = start_dashboard(root)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                page = open_page(browser, url)
                wait_js(page, "!document.querySelector('#traces-section').hidden", timeout=30)
                page.click(f"#traces tr[data-trace='{newest['TraceId']}']")
                wait_js(page, "document.querySelectorAll('#waterfall g.span').length >= 5", timeout=30)
                agents = page.eval_on_selector_all("#waterfall g.span", "nodes => nodes.map(n => n.dataset.agent)")
                assert {"front", "middle", "leaf"} <= set(agents)
                assert "failed" in page.inner_text("#traces")  # the raising tool's trace is marked
            finally:
                browser.close()
    finally:
        stop(dashboard)


def test_call_trace_prints_the_result_and_the_calls_waterfall(chain):
    cli, _, _, _ = chain
    called = cli("call", "front", "plan", "topic=z", "--trace", "--timeout", "60")
    assert called.returncode == 0, called.stdout + called.stderr
    result, waterfall = called.stdout.split("\ntrace ", 1)
    assert result.strip() == "front(middle(leaf:z))"
    head, *rows = waterfall.splitlines()
    assert head.split()[1] == "front.plan" and head.split()[-1] == "ok"
    assert [row.split()[2] for row in rows[1:]] == ["front", "front", "middle", "middle", "leaf"]


def test_the_assistant_sees_the_mesh_and_calls_a_tool(chain):
    """`mesh-compose mcp --allow-control` driven by the MCP SDK's own client: the
    mesh tool shows the real wiring, call_tool returns the real tool's result."""
    pytest.importorskip("mcp", reason="the MCP SDK needs Python 3.10+")
    import anyio
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    _, _, _, root = chain
    params = StdioServerParameters(command=sys.executable, args=["-m", "meshcompose", "mcp", "--allow-control"],
                                   cwd=str(root), env={**os.environ, "NO_COLOR": "1"})

    async def talk():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            return (await client.call_tool("mesh", {}),
                    await client.call_tool("call_tool", {"agent": "leaf", "tool": "leaf", "arguments": {"topic": "m"},
                                                         "timeout": 60}),
                    await client.call_tool("graph", {}))

    mesh, called, graph = anyio.run(talk)
    assert not mesh.isError, mesh.content
    agents = {agent["name"]: agent for agent in mesh.structuredContent["agents"]}
    assert agents["front"]["status"] == "healthy" and agents["front"]["resolved"] == agents["front"]["total"] == 1
    assert {d["provider"] for d in agents["front"]["dependencies"]} == {"middle"}
    assert not called.isError and called.content[0].text == "leaf:m", called.content
    resolved = [e for e in graph.structuredContent["edges"] if e["kind"] == "resolved"]
    assert {(e["dependency"], e["dependent"]) for e in resolved} == {("middle", "front"), ("leaf", "middle")}


def test_down_stops_the_redis_last_and_leaves_nothing(chain):
    cli, _, _, _ = chain
    rows = {row["Name"]: row for row in map(json.loads, cli("ps", "--format", "json").stdout.splitlines())}
    assert rows["mesh-redis"]["State"] == "healthy"
    pids = [row["Pid"] for row in rows.values()]
    down = cli("down", "-t", "5")
    assert down.returncode == 0, down.stderr
    stopped = [line.split()[1] for line in down.stdout.splitlines() if line.strip().startswith("✔")]
    assert stopped[-1] == "mesh-redis" and stopped[-2] == "mesh-registry", stopped
    wait_until(lambda: not any(alive(pid) for pid in pids), 15, "every process to be gone")
