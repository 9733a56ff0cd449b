"""Golden files: the demo, the MCP Mesh example and a project using every key,
exported and compared byte for byte with tests/fixtures/export/golden/.

After an intended change, regenerate with
`MESH_COMPOSE_UPDATE_GOLDEN=1 pytest tests/unit/export/test_golden.py` and
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from export_projects import FIXTURES, PROJECTS, ROOT, export

GOLDEN = FIXTURES / "golden"


def _golden_files(name: str) -> dict:
    directory = GOLDEN / name
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.iterdir())} if directory.is_dir() else {}


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_export_matches_the_golden_files(name: str, exported: dict) -> None:
    result = exported[name]
    produced = dict(result.files)
    produced["warnings.txt"] = "".join(f"{warning}\n" for warning in result.warnings)
    produced["stream.yaml"] = result.stream
    if os.environ.get("MESH_COMPOSE_UPDATE_GOLDEN"):
        directory = GOLDEN / name
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
        for file, text in produced.items():
            (directory / file).write_text(text, encoding="utf-8")
    assert produced == _golden_files(name)


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_output_is_byte_identical_on_every_run(name: str, exported: dict) -> None:
    again = export(name)
    assert again.files == exported[name].files and again.stream == exported[name].stream


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_no_path_of_this_machine_is_written(name: str, exported: dict) -> None:
    """The same file exports the same manifests on every machine."""
    text = exported[name].stream
    assert str(ROOT) not in text and str(Path.home()) not in text


def test_the_stream_holds_every_file_but_the_kustomization(exported: dict) -> None:
    result = exported["full"]
    for name, text in result.files[:-1]:
        body = text.split("\n", 1)[1]
        assert f"# Source: {name}\n{body}" in result.stream
    assert result.files[-1][0] == "kustomization.yaml"
