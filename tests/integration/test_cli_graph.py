"""`mesh-compose graph` through the real CLI on project files in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

MESH = {
    "name": "demo",
    "agents": {
        "registry": {"script": "registry.py"},
        "weather": {"script": "weather.py", "depends_on": {"registry": {"condition": "healthy"}}},
        "cache": {"script": "cache.py"},
        "web": {
            "script": "web.py",
            "depends_on": {"weather": {"condition": "started"}, "cache": {"condition": "started", "required": False}},
        },
    },
}


def write_project(root: Path, document: dict) -> None:
    for agent in document["agents"].values():
        (root / agent["script"]).write_text("print('hi')\n")
    (root / "mesh-compose.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def graph(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshcompose", "graph", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def mesh(tmp_path: Path) -> Path:
    write_project(tmp_path, MESH)
    return tmp_path


def test_text_lists_start_waves_with_conditions_on_each_dependency(mesh: Path) -> None:
    out = graph(mesh)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "demo: 4 agents, 3 dependencies, 3 start waves\n"
        "\n"
        "wave 1\n"
        "  registry\n"
        "  cache\n"
        "\n"
        "wave 2\n"
        "  weather   <- registry (healthy)\n"
        "\n"
        "wave 3\n"
        "  web       <- weather (started), cache (started, required: false)\n"
    )


def test_json_has_the_waves_and_every_edge_with_condition_and_required(mesh: Path) -> None:
    out = graph(mesh, "--format", "json")
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert document["start_order"] == [["registry", "cache"], ["weather"], ["web"]]
    assert {"dependent": "web", "dependency": "cache", "condition": "started", "required": False} \
        in document["dependencies"]
    assert {"dependent": "weather", "dependency": "registry", "condition": "healthy", "required": True} \
        in document["dependencies"]
    assert len(document["dependencies"]) == 3


def test_mermaid_and_dot_label_edges_and_dash_optional_ones(mesh: Path) -> None:
    mermaid = graph(mesh, "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert 'a0 -->|"healthy"| a2' in mermaid  # registry -> weather
    assert 'a1 -.->|"started, required: false"| a3' in mermaid  # cache -> web
    dot = graph(mesh, "--format", "dot").stdout
    assert dot.startswith('digraph "demo" {')
    assert '"registry" -> "weather" [label="healthy"];' in dot
    assert '"cache" -> "web" [label="started, required: false", style=dashed];' in dot


def test_named_agents_show_only_them_and_their_dependencies(mesh: Path) -> None:
    document = json.loads(graph(mesh, "--format", "json", "weather").stdout)
    assert document["agents"] == ["registry", "weather"]
    assert len(document["dependencies"]) == 1


def test_a_cycle_is_a_config_error_naming_the_whole_cycle(tmp_path: Path) -> None:
    write_project(tmp_path, {"agents": {
        "a": {"script": "a.py", "depends_on": ["b"]},
        "b": {"script": "b.py", "depends_on": ["c"]},
        "c": {"script": "c.py", "depends_on": ["a"]},
    }})
    out = graph(tmp_path)
    assert out.returncode == 3
    assert "dependency cycle: a -> b -> c -> a" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_unknown_agent_name_is_an_error_with_a_suggestion(mesh: Path) -> None:
    out = graph(mesh, "wether")
    assert out.returncode == 3
    assert "no agent named 'wether'" in out.stderr
    assert "did you mean 'weather'?" in out.stderr
