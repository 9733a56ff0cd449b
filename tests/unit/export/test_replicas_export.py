"""`replicas` in `export kubernetes`: the Deployment's count, one probe port
for every pod, and no shared mesh identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from export_projects import documents

from meshcompose.config.loader import load_project
from meshcompose.export import ExportOptions, ExportResult, export_kubernetes

SDK = "import mesh\n"


def _export(tmp_path: Path, agents: dict[str, Any], scripts: dict[str, str]) -> ExportResult:
    for name, source in scripts.items():
        (tmp_path / name).write_text(source)
    (tmp_path / "mesh-compose.yaml").write_text(yaml.safe_dump({"name": "p", "agents": agents}))
    return export_kubernetes(load_project(cwd=tmp_path, environ={}), ExportOptions())


def _deployment(result: ExportResult, name: str) -> dict[str, Any]:
    return next(d for d in documents(result) if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def test_the_count_is_the_deployments_and_each_pod_is_probed_on_the_written_port(tmp_path: Path) -> None:
    result = _export(tmp_path, {
        "api": {"script": "api.py", "replicas": 3, "restart": "always", "increment_var": "PORT",
                "environment": {"PORT": 9100}, "healthcheck": {"http": "http://127.0.0.1:$${PORT}/health"}},
        "idle": {"script": "api.py", "replicas": 0, "restart": "always"},
    }, {"api.py": "print('hi')\n"})
    api = _deployment(result, "api")
    assert api["spec"]["replicas"] == 3
    probe = api["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    assert probe["port"] == 9100
    assert _deployment(result, "idle")["spec"]["replicas"] == 0


def test_replicated_mesh_agents_get_no_shared_agent_id(tmp_path: Path) -> None:
    result = _export(tmp_path, {"hello": {"script": "hello.py", "replicas": 2},
                                "solo": {"script": "hello.py"}}, {"hello.py": SDK})
    env = {d["metadata"]["name"]: d["data"] for d in documents(result) if d["metadata"]["name"].endswith("-env")}
    assert "MCP_MESH_AGENT_ID" not in env["hello-env"] and env["solo-env"]["MCP_MESH_AGENT_ID"] == "p-solo"
    assert _deployment(result, "hello")["spec"]["replicas"] == 2
