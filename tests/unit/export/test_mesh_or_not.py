"""MCP Mesh agents get the SDK's probe endpoints and MCP Mesh's image and
wiring; a project without MCP Mesh gets none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from export_projects import documents

from meshcompose.config.loader import load_project
from meshcompose.export import ExportOptions, ExportResult, export_kubernetes
from meshcompose.export.images import PYTHON_RUNTIME_IMAGE


def _export(tmp_path: Path, document: dict[str, Any], scripts: dict[str, str], **options: Any) -> ExportResult:
    for name, source in scripts.items():
        (tmp_path / name).write_text(source)
    (tmp_path / "mesh-compose.yaml").write_text(yaml.safe_dump({"name": "p", **document}))
    return export_kubernetes(load_project(cwd=tmp_path, environ={}), ExportOptions(**options))


def _container(result: ExportResult, name: str) -> dict[str, Any]:
    workload = next(d for d in documents(result) if d["kind"] in ("Job", "Deployment") and d["metadata"]["name"] == name)
    return workload["spec"]["template"]["spec"]["containers"][0]


def _env(result: ExportResult, name: str) -> dict[str, str]:
    return next(d for d in documents(result) if d["metadata"]["name"] == f"{name}-env")["data"]


def _paths(container: dict[str, Any]) -> dict[str, str]:
    return {kind: container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
            if "httpGet" in container.get(kind, {})}


def test_a_project_without_mcp_mesh_gets_no_mesh_variables_and_a_plain_python_image(tmp_path: Path) -> None:
    result = _export(tmp_path, {"agents": {
        "api": {"script": "api.py", "environment": {"PORT": "8800"}, "healthcheck": {"http": "http://127.0.0.1:8800/"}},
        "old": {"script": "old.py", "python": {"requires": "<3.12"}},
        "pinned": {"script": "pinned.py", "interpreter": "python3.10", "environment": {"HOST": "0.0.0.0"}},
    }}, {"api.py": "import json\n", "old.py": "print(1)\n", "pinned.py": "print(1)\n"})
    assert "mesh-registry" not in result.stream and "MCP_MESH_" not in result.stream
    assert "HOST" not in _env(result, "api") and "HOST" not in _env(result, "old")
    assert _env(result, "pinned")["HOST"] == "0.0.0.0"  # asked for in the file: kept
    images = {name: _container(result, name)["image"] for name in ("api", "old", "pinned")}
    assert images == {"api": "python:3.13-slim", "old": "python:3.11-slim", "pinned": "python:3.10-slim"}
    assert PYTHON_RUNTIME_IMAGE not in result.stream
    assert not any("packages" in warning for warning in result.warnings)


def test_an_agent_needing_packages_is_told_it_needs_its_own_image(tmp_path: Path) -> None:
    document = {"agents": {"api": {"script": "api.py", "python": {"packages": ["httpx"]}, "restart": "always"}}}
    result = _export(tmp_path, document, {"api.py": "import httpx\n"})
    assert _container(result, "api")["image"] == "python:3.13-slim"
    assert result.warnings == ("agents.api.python.packages: httpx: python:3.13-slim has only the standard library; "
                               "an agent that needs packages needs its own image: build one that installs them and "
                               "set x-kubernetes.image (or --image)",)
    own = _export(tmp_path, document, {"api.py": "import httpx\n"}, images=(("api", "ghcr.io/acme/api:1"),))
    assert own.warnings == () and _container(own, "api")["image"] == "ghcr.io/acme/api:1"


def test_an_agent_importing_the_sdk_makes_it_an_mcp_mesh_project(tmp_path: Path) -> None:
    result = _export(tmp_path, {"agents": {"hello": {"script": "hello.py"}, "tool": {"script": "tool.py"}}},
                     {"hello.py": "import mesh\n", "tool.py": "print(1)\n"})
    container = _container(result, "hello")
    assert container["image"] == PYTHON_RUNTIME_IMAGE and container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert _paths(container) == {"startupProbe": "/startupz", "livenessProbe": "/livez", "readinessProbe": "/ready"}
    env = _env(result, "hello")
    assert (env["HOST"], env["MCP_MESH_HTTP_PORT"], env["MCP_MESH_HTTP_HOST"]) == ("0.0.0.0", "8080", "hello")
    assert env["MCP_MESH_REGISTRY_URL"] == "http://mesh-registry:8000"
    assert _container(result, "tool")["image"] == "python:3.13-slim"  # no SDK: no SDK image
    assert "MCP_MESH_REGISTRY_URL" in _env(result, "tool")  # but the mesh's wiring, as under `up`
    registry = _container(result, "mesh-registry")
    assert {registry[kind]["httpGet"]["path"] for kind in ("readinessProbe", "livenessProbe")} == {"/health"}


def test_a_module_named_mesh_beside_the_script_is_not_the_sdk(tmp_path: Path) -> None:
    result = _export(tmp_path, {"agents": {"a": {"script": "a.py", "restart": "always"}}},
                     {"a.py": "import mesh\n", "mesh.py": "X = 1\n"})
    assert "MCP_MESH_" not in result.stream and _container(result, "a")["image"] == "python:3.13-slim"


@pytest.mark.parametrize(("requirement", "image", "paths"), [
    ("mcp-mesh", None, ("/startupz", "/livez", "/ready")),
    ("mcp-mesh==3.7.1", "ghcr.io/acme/a:1", ("/startupz", "/livez", "/ready")),
    ("mcp-mesh>=3.0", "ghcr.io/acme/a:1", ("/startupz", "/livez", "/ready")),
    ("mcp-mesh==3.5.2", "ghcr.io/acme/a:1", ("/health", "/health", "/health")),
    ("mcp-mesh<3.6", "ghcr.io/acme/a:1", ("/health", "/health", "/health")),
    ("mcp-mesh~=3.5.0", "ghcr.io/acme/a:1", ("/health", "/health", "/health")),
    # The runtime image has the SDK it is pinned to, whatever the file asks for (and the export says so).
    ("mcp-mesh==3.5.2", None, ("/startupz", "/livez", "/ready")),
], ids=lambda value: str(value))
def test_sdk_probe_paths_follow_the_sdk_version_in_the_container(tmp_path: Path, requirement: str, image: str | None,
                                                                 paths: tuple) -> None:
    document = {"agents": {"a": {"script": "a.py", "python": {"packages": [requirement]}}}}
    result = _export(tmp_path, document, {"a.py": "import mesh\n"}, images=(("a", image),) if image else ())
    found = _paths(_container(result, "a"))
    assert (found["startupProbe"], found["livenessProbe"], found["readinessProbe"]) == paths
    if image is None and requirement == "mcp-mesh==3.5.2":
        assert any("excludes the runtime image's mcp-mesh 3.7.1" in warning for warning in result.warnings)


def test_an_sdk_agents_own_http_healthcheck_stays_its_readiness(tmp_path: Path) -> None:
    document = {"agents": {"a": {"script": "a.py", "environment": {"MCP_MESH_HTTP_PORT": "9100"},
                                 "healthcheck": {"http": "http://127.0.0.1:9100/custom", "interval": "7s"}}}}
    container = _container(_export(tmp_path, document, {"a.py": "from mesh import agent\n"}), "a")
    assert _paths(container) == {"startupProbe": "/startupz", "livenessProbe": "/livez", "readinessProbe": "/custom"}
    assert container["readinessProbe"]["periodSeconds"] == 7 and container["livenessProbe"]["httpGet"]["port"] == 9100


def test_healthy_on_a_registry_checked_agent_waits_for_the_registry_to_list_it(tmp_path: Path) -> None:
    document = {"agents": {"hello": {"script": "hello.py", "healthcheck": {"registry": True}},
                           "greeter": {"script": "greeter.py", "depends_on": {"hello": {"condition": "healthy"}}}}}
    result = _export(tmp_path, document, {"hello.py": "import mesh\n", "greeter.py": "import mesh\n"})
    greeter = next(d for d in documents(result) if d["kind"] == "Deployment" and d["metadata"]["name"] == "greeter")
    note = greeter["metadata"]["annotations"]["depends-on.mesh-compose.dev/hello"]
    assert note.startswith("healthy") and "/agents until p-hello is healthy" in note
