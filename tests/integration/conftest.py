from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import ProjectDir


@pytest.fixture
def project(tmp_path: Path):
    proj = ProjectDir(tmp_path)
    yield proj
    proj.cleanup()
