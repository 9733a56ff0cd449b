"""Every manifest validates, in strict mode, against the Kubernetes schemas of
the oldest and the newest version the export supports (kubernetes-validate
bundles them and works offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from export_projects import PROJECTS, documents, export

from meshcompose.config.loader import load_project
from meshcompose.export import ExportOptions, export_kubernetes
from meshcompose.export.options import NEWEST_VERSION, OLDEST_VERSION, STOP_SIGNAL_VERSION


def _version(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}.0"


def _validate(document: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{document['kind']}/{document['metadata']['name']} is invalid for Kubernetes {version}: "
                    f"{'.'.join(map(str, error.path))}: {error.message}")


def test_the_supported_range_is_what_kubernetes_validate_bundles() -> None:
    bundled = kubernetes_validate.utils.all_versions()
    assert _version(OLDEST_VERSION) in bundled and _version(NEWEST_VERSION) in bundled


@pytest.mark.parametrize("version", [OLDEST_VERSION, NEWEST_VERSION])
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_every_manifest_is_valid(name: str, version: tuple[int, int], exported: dict) -> None:
    for document in documents(exported[name]):
        _validate(document, _version(version))


@pytest.mark.parametrize("version", [STOP_SIGNAL_VERSION, NEWEST_VERSION])
def test_manifests_for_a_newer_cluster_use_the_stop_signal_field_and_are_valid(version: tuple[int, int]) -> None:
    result = export("full", kubernetes_version=version)
    api = next(d for d in documents(result) if d["kind"] == "Deployment" and d["metadata"]["name"] == "api")
    pod = api["spec"]["template"]["spec"]
    assert pod["containers"][0]["lifecycle"] == {"stopSignal": "SIGINT"} and pod["os"] == {"name": "linux"}
    for document in documents(result):
        _validate(document, _version(version))


def test_older_clusters_get_a_pre_stop_hook_that_sends_the_signal(exported: dict) -> None:
    api = next(d for d in documents(exported["full"]) if d["kind"] == "Deployment" and d["metadata"]["name"] == "api")
    hook = api["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[:2] == ["python", "-c"] and "os.kill(1, signal.SIGINT)" in hook[2]


@pytest.mark.parametrize("version", [OLDEST_VERSION, NEWEST_VERSION])
def test_jobs_that_retry_and_chosen_kinds_are_valid(version: tuple[int, int], tmp_path: Path) -> None:
    agents = {
        "setup": {"script": "a.py", "restart": "on-failure", "max_restarts": 2},
        "batch": {"script": "a.py", "x-kubernetes": {"kind": "Job"}, "healthcheck": {"http": "http://127.0.0.1:81/"}},
        "api": {"script": "a.py", "x-kubernetes": {"kind": "Deployment"},
                "depends_on": {"setup": {"condition": "completed_successfully"}}},
    }
    (tmp_path / "a.py").write_text("import mesh\n")
    (tmp_path / "mesh-compose.yaml").write_text(yaml.safe_dump({"name": "kinds", "agents": agents}))
    result = export_kubernetes(load_project(cwd=tmp_path, environ={}), ExportOptions())
    kinds = {d["metadata"]["name"]: d["kind"] for d in documents(result) if d["kind"] in ("Job", "Deployment")}
    assert kinds == {"mesh-registry": "Deployment", "setup": "Job", "batch": "Job", "api": "Deployment"}
    for document in documents(result):
        _validate(document, _version(version))
