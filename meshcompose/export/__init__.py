"""Manifests for other engines from the same model (Kubernetes first).

`export_kubernetes(project, ExportOptions(...)) -> ExportResult`; nothing
here prints or writes files: the CLI does.
"""

from meshcompose.export.kubernetes import export_kubernetes
from meshcompose.export.options import ExportError, ExportOptions, ExportResult, Manifest

__all__ = ["export_kubernetes", "ExportError", "ExportOptions", "ExportResult", "Manifest"]
