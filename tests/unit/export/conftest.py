"""Every test project exported once per session."""

from __future__ import annotations

from typing import Dict

import pytest
from export_projects import PROJECTS, export

from meshcompose.export import ExportResult


@pytest.fixture(scope="session")
def exported() -> Dict[str, ExportResult]:
    return {name: export(name) for name in PROJECTS}
