"""`ps` in a run that uses the registry: DEPS (resolved/total) and the endpoint port,
read over real HTTP from a server answering a recorded registry answer."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from meshcompose.app.ps import Row, add_mesh_columns
from meshcompose.cli.commands.ps import render_table

ANSWER = (Path(__file__).parent / "registry_answers" / "three_wired.json").read_bytes()


@pytest.fixture
def registry_url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def row(name: str) -> Row:
    return Row(Name=name, Project="three", State="running", Status="running", Health=None, ExitCode=None,
               Pid=1, StartedAt=None, Uptime=None, Restarts=0, CPUPercent=None, MemoryBytes=None, Python=None,
               Venv=None, Interpreter=None, Message=None, LogPath="", Limits=None)


def test_ps_shows_deps_and_the_endpoint_port_and_the_json_the_full_lists(registry_url):
    rows = [row("hello"), row("greeter"), row("ghost")]
    add_mesh_columns(registry_url, "three", rows)
    hello, greeter, ghost = rows
    endpoints = {a["id"]: a["endpoint"] for a in json.loads(ANSWER)["agents"]}
    assert greeter.Deps == "3/4" and hello.Deps == "-" and ghost.Deps is None
    assert greeter.Endpoint == endpoints["three-greeter"]
    assert greeter.Port == int(endpoints["three-greeter"].rsplit(":", 1)[1])
    assert hello.CapabilityNames == ["greeting", "ping", "failing"]
    assert {d["capability"]: d["provider"] for d in greeter.Dependencies} == {
        "greeting": "three-hello", "time": "three-clock", "ping": "three-clock", "weather": None}
    table = render_table(rows, mesh=True).splitlines()
    assert table[0].split() == ["NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "CPU%", "MEM", "PYTHON", "MESH",
                                "CAPS", "DEPS", "PORT"]
    assert table[2].split()[-4:] == ["registered", "1", "3/4", str(greeter.Port)]
    assert table[3].split()[-4:] == ["—", "—", "—", "—"]


def test_the_dashboard_graph_draws_the_registrys_resolved_edges(tmp_path, registry_url):
    from meshcompose.app.dashboard import resolved_edges
    from meshcompose.app.project import ProjectIdentity
    from meshcompose.control import state
    from meshcompose.model import Agent, Project, RunKind

    names = ("hello", "clock", "greeter")
    doc = state.new_document("three", tmp_path, [])
    doc["registry_url"] = registry_url
    doc["agents"] = {name: state.new_agent() for name in names}
    state.StateStore(tmp_path, "three").write(doc)
    agents = {name: Agent(name, RunKind.SCRIPT, str(tmp_path / f"{name}.py")) for name in names}
    project = Project("three", tmp_path, (), agents)
    edges = resolved_edges(ProjectIdentity(tmp_path, "three"), lambda: project)
    assert {(edge.dependency, edge.dependent, edge.label, edge.kind) for edge in edges} == {
        ("hello", "greeter", "greeting", "resolved"), ("clock", "greeter", "time, ping", "resolved")}
    assert resolved_edges(ProjectIdentity(tmp_path, "never-ran")) == []  # no run, no registry: none
