"""The mesh as mesh-compose shows it, on a real three-agent mesh (tests/mesh/three),
once per installed SDK version: greeter resolves `time` from clock, which it does
not declare; clock declares hello but resolves nothing from it; nobody offers
`weather`; hello and clock both offer `ping`.

One foreground `up` per SDK version runs the mesh for every test here; the
tests read it with `mesh`, `ps`, `events`, `tools` and `call` from other processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_helpers import free_port, wait_until

pytestmark = [pytest.mark.mesh, pytest.mark.every_sdk]

THREE = Path(__file__).parent / "three"
WARNINGS = {("clock", "unused-dependency", ""), ("greeter", "undeclared-provider", "time"),
            ("greeter", "undeclared-provider", "ping"), ("greeter", "unresolved", "weather"),
            ("clock", "several-providers", "ping")}
# A defect of the SDK's HTTP server with the starlette its install resolves to:
# a streamable-HTTP answer fails inside the agent and the client gets nothing. Seen on
# every answer of 3.7.1, and on some answers of 3.8.0 under load.
SDK_STREAM_DEFECT = "Unexpected message received: http.request"


class Mesh:
    def __init__(self, project: Path, env: dict, up: subprocess.Popen, output: Path) -> None:
        self.project, self.env, self.up, self.output = project, env, up, output

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=self.project, env=self.env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def events(self) -> list[dict]:
        path = self.project / ".mesh-compose" / "three" / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def mesh_warnings(self) -> set:
        return {(e["service"], e["attributes"]["finding"], e["attributes"]["capability"])
                for e in self.events() if e["action"] == "mesh: warning"}

    def agent_log(self, name: str) -> str:
        return (self.project / ".mesh-compose" / "three" / "logs" / f"{name}.log").read_text(errors="replace")

    def xfail_on_stream_defect(self) -> None:
        if any(SDK_STREAM_DEFECT in self.agent_log(name) for name in ("hello", "clock", "greeter")):
            pytest.xfail(f"the installed SDK's HTTP server fails every MCP answer ({SDK_STREAM_DEFECT})")


@pytest.fixture(scope="module")
def three(mesh_stack, tmp_path_factory):
    project = tmp_path_factory.mktemp("mesh") / "three"
    shutil.copytree(THREE, project)
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent), "NO_COLOR": "1"}
    env.pop("MCP_MESH_REGISTRY_URL", None)
    port = free_port()
    text = (project / "mesh-compose.yaml").read_text().replace("command: auto", f"command: auto\n  port: {port}")
    (project / "mesh-compose.yaml").write_text(text)
    output = project / "up.out"
    with open(output, "wb") as sink:
        up = subprocess.Popen([sys.executable, "-m", "meshcompose", "up"], cwd=project, env=env, stdout=sink,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    mesh = Mesh(project, env, up, output)
    try:
        wait_until(lambda: mesh.mesh_warnings() >= WARNINGS or up.poll() is not None, 180,
                   "the mesh to wire and every declared-vs-resolved warning")
        assert up.poll() is None, output.read_text()
        yield mesh
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                mesh.cli("down", "-t", "5")
                up.wait(30)
        mesh.cli("down", "-t", "5")


def test_mesh_table_shows_each_fact(three):
    result = three.cli("mesh")
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert "greeter  (three-greeter)  healthy, current process  http://127.0.0.1:" in shown
    assert "greeting 1.2.0 [en], ping 1.0.0, failing 1.0.0" in shown
    assert "hello: Greets someone by name" in shown
    assert "greeting → hello (three-hello) @ http://127.0.0.1:" in shown
    assert "time → clock (three-clock) @ http://127.0.0.1:" in shown and "(not in depends_on)" in shown
    assert "weather → unresolved" in shown
    assert "depends_on    hello (registered)" in shown
    assert "greeter resolves time from clock but does not depend_on it" in shown
    assert "clock waits for hello to register (depends_on condition: registered) but resolves none" in shown
    assert "greeter's dependency weather stays unresolved" in shown
    assert "ping is offered by clock, hello; the registry chose" in shown
    assert "__mesh_job_status" not in shown and "__mesh_job_status" in three.cli("mesh", "--all").stdout


def test_mesh_json_carries_each_fact(three):
    result = three.cli("mesh", "--format", "json", "greeter", "hello")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    agents = {agent["name"]: agent for agent in data["agents"]}
    assert set(agents) == {"greeter", "hello"}
    greeter = agents["greeter"]
    assert greeter["status"] == "healthy" and greeter["current"] and greeter["agent_id"] == "three-greeter"
    assert greeter["endpoint"].endswith(f":{greeter['port']}")
    deps = {d["capability"]: d for d in greeter["dependencies"]}
    assert deps["greeting"]["provider"] == "hello" and deps["greeting"]["declared"] is True
    assert deps["greeting"]["endpoint"] == agents["hello"]["endpoint"]
    assert deps["time"]["provider"] == "clock" and deps["time"]["declared"] is False
    assert deps["weather"]["resolved"] is False
    assert {(f["agent"], f["kind"], f["capability"]) for f in data["findings"]} >= {
        ("greeter", "undeclared-provider", "time"), ("greeter", "unresolved", "weather")}


def test_ps_shows_deps_and_the_port(three):
    result = three.cli("ps", "--format", "json")
    rows = {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["greeter"]["Deps"] == "3/4" and rows["hello"]["Deps"] == "-"
    assert rows["greeter"]["Endpoint"].endswith(f":{rows['greeter']['Port']}")
    assert "DEPS" in three.cli("ps").stdout.splitlines()[0]


def test_the_warnings_appear_once_and_the_mesh_events_in_order(three):
    output = three.output.read_text()
    for line in ("greeter resolves time from clock but does not depend_on it",
                 "greeter's dependency weather stays unresolved", "ping is offered by clock, hello"):
        assert output.count(line) == 1, output
    assert output.count("mesh: resolved greeting → hello") == 1
    events = [(e["service"], e["action"], e["attributes"].get("capability")) for e in three.events()
              if e["action"].startswith("mesh: ") and e["action"] != "mesh: warning"]
    assert events.index(("hello", "mesh: registered", None)) < events.index(
        ("greeter", "mesh: resolved", "greeting"))
    assert events.index(("greeter", "mesh: registered", None)) < events.index(
        ("greeter", "mesh: resolved", "time"))
    assert len([e for e in three.events() if e["action"] == "mesh: warning"]) == len(WARNINGS)


def test_tools_lists_the_real_tools(three):
    result = three.cli("tools", "hello", "--format", "json")
    if result.returncode:
        three.xfail_on_stream_defect()
    assert result.returncode == 0, result.stderr
    (hello,) = json.loads(result.stdout)
    tools = {tool["name"]: tool for tool in hello["tools"]}
    assert set(tools) == {"hello", "ping_hello", "fail"}
    assert tools["hello"]["inputSchema"]["properties"]["name"]["type"] == "string"
    assert tools["hello"]["description"] == "Greets someone by name"
    assert 'hello(name: string = "world")  Greets someone by name' in three.cli("tools", "hello").stdout


def test_call_returns_the_tool_result_and_a_tool_error(three):
    result = three.cli("call", "greeter", "welcome", "name=Ada")
    if result.returncode:
        three.xfail_on_stream_defect()
    assert (result.returncode, result.stdout) == (0, "Hello, Ada! It is 12:00.\n"), result.stderr
    failed = three.cli("call", "hello", "fail", '{"reason": "on purpose"}')
    assert failed.returncode == 1 and "the tool failed on purpose" in failed.stderr
    unknown = three.cli("call", "hello", "nope")
    assert unknown.returncode == 1 and "its tools: hello, ping_hello, fail" in unknown.stderr
    nobody = three.cli("call", "nobody", "x")
    assert nobody.returncode != 0 and "hello, clock, greeter" in nobody.stderr
    whole = json.loads(three.cli("call", "hello", "hello", "name=123", "--format", "json").stdout)
    assert whole["content"][0]["text"] == "Hello, 123!" and whole["isError"] is False


def test_graph_live_has_declared_and_resolved_edges(three):
    result = three.cli("graph", "--live", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    edges = {(e["kind"], e["provider"], e["dependent"]) for e in data["edges"]}
    assert ("declared", "hello", "greeter") in edges and ("declared", "hello", "clock") in edges
    assert ("resolved", "hello", "greeter") in edges and ("resolved", "clock", "greeter") in edges
    assert ("resolved", "hello", "clock") not in edges
    assert {agent["name"]: agent["state"] for agent in data["agents"]}["hello"] == "healthy, mesh healthy"
    mermaid = three.cli("graph", "--live", "--format", "mermaid").stdout
    assert "-.->" in mermaid and "-->" in mermaid
    assert "- - > greeter  time, ping   (not declared)" in three.cli("graph", "--live").stdout
