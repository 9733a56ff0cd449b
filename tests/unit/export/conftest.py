"""Every test project exported once per session."""

from __future__ import annotations

import pytest
from export_projects import PROJECTS, export

from meshcompose.export import ExportResult


@pytest.fixture(scope="session")
def exported() -> dict[str, ExportResult]:
    return {name: export(name) for name in PROJECTS}
