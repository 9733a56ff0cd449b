"""The projects the Kubernetes export is tested on (tests/unit/export, tests/integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meshcompose.config.loader import load_project
from meshcompose.export import ExportOptions, ExportResult, export_kubernetes

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "export"
# A value the caller's environment gives a bare `FROM_CALLER` key: it must never reach a manifest.
CALLER_SECRET = "caller-secret-d41d8cd9"

# name -> (project file, profiles, caller environment, options)
PROJECTS: dict[str, Any] = {
    "demo": (ROOT / "mesh-compose.yaml", (), {}, ExportOptions()),
    "mcp-mesh": (ROOT / "examples" / "mcp-mesh" / "mesh-compose.yaml", (), {}, ExportOptions()),
    "full": (FIXTURES / "full" / "mesh-compose.yaml", ("debug",), {"FROM_CALLER": CALLER_SECRET},
             ExportOptions(namespace="shop")),
}


def export(name: str, **changes: Any) -> ExportResult:
    path, profiles, environ, options = PROJECTS[name]
    project = load_project([path], profiles=profiles, environ=environ)
    if changes:
        options = ExportOptions(**{**options.__dict__, **changes})
    return export_kubernetes(project, options)


def documents(result: ExportResult) -> list[dict[str, Any]]:
    """The manifests as a cluster would read them: parsed back from the written text."""
    return [yaml.safe_load(text) for name, text in result.files if name != "kustomization.yaml"]
