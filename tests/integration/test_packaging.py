"""The wheel a user installs: it carries the schema, the typing marker, the
licence, and the one version the code itself reports."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import meshcompose

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A non-editable wheel built from a copy of the checkout (the build writes into its source)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".mesh-compose", ".mesh-stack", ".venv*", "*.egg-info", "build", "dist", "__pycache__",
        ".hypothesis", ".*_cache", "tests", "benchmarks"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(source)],
                   check=True, timeout=240, capture_output=True, stdin=subprocess.DEVNULL)
    (built,) = (work / "dist").glob("mesh_compose-*.whl")
    return zipfile.ZipFile(built)


def _metadata(wheel: zipfile.ZipFile) -> tuple[str, list[tuple[str, str]]]:
    (path,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    message = Parser().parsestr(wheel.read(path).decode("utf-8"))
    return path.rsplit("/", 1)[0], list(message.items())


@pytest.mark.timeout(300)
def test_wheel_ships_the_schema_and_the_typing_marker(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "meshcompose/schemas/mesh-compose.schema.json" in names
    assert "meshcompose/py.typed" in names  # PEP 561: type checkers read the package's own hints


@pytest.mark.timeout(300)
def test_wheel_declares_mit_and_carries_the_license_text(wheel: zipfile.ZipFile) -> None:
    dist_info, fields = _metadata(wheel)
    assert ("License-Expression", "MIT") in fields
    assert ("Classifier", "Typing :: Typed") in fields
    license_text = wheel.read(f"{dist_info}/licenses/LICENSE").decode("utf-8")
    assert license_text.startswith("MIT License") and "the mesh-compose authors" in license_text


@pytest.mark.timeout(300)
def test_wheel_version_is_the_one_the_code_reports(wheel: zipfile.ZipFile) -> None:
    _, fields = _metadata(wheel)
    assert ("Version", meshcompose.__version__) in fields
