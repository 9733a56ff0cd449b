"""Where a value came from: the model records which settings hold values from
outside the project files, so an export can keep them out of what it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcompose.config import loader
from meshcompose.config.interpolate import interpolate


@pytest.fixture(autouse=True)
def _scripts(tmp_path: Path) -> None:
    """The projects below run api.py: the loader checks that it exists."""
    (tmp_path / "api.py").write_text("")


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(text)
    return path


def test_interpolate_reports_the_variables_whose_values_it_used() -> None:
    used: list = []
    assert interpolate("${A}-${B:-b}-${C:-c}-$$D-${E:+e}", {"A": "1", "C": "3", "E": "x"}, [], used) == "1-b-3-$D-e"
    # B fell back to the file's default, E only chose the file's text: neither value is in the result.
    assert used == ["A", "C"]


def test_environment_keys_from_outside_the_file_are_external(tmp_path: Path) -> None:
    _write(tmp_path, "app.env", "FROM_ENV_FILE=1\nOVERRIDDEN=file\n")
    _write(tmp_path, ".env", "DOTENV=2\n")
    project = _write(tmp_path, "mesh-compose.yaml", """
agents:
  api:
    script: api.py
    env_file: app.env
    environment:
      LITERAL: plain
      DEFAULTED: "${UNSET_VAR:-default}"
      FROM_CALLER: "${CALLER_VAR}"
      PARTLY: "http://${DOTENV}:80"
      BARE:
      OVERRIDDEN: literal
""")
    agent = loader.load_project([project], environ={"CALLER_VAR": "c", "BARE": "b"}).agents["api"]
    assert agent.external == {
        "environment.FROM_ENV_FILE", "environment.FROM_CALLER", "environment.PARTLY", "environment.BARE",
    }
    assert agent.environment["DEFAULTED"] == "default" and agent.environment["OVERRIDDEN"] == "literal"


def test_other_settings_interpolated_from_variables_are_external(tmp_path: Path) -> None:
    project = _write(tmp_path, "mesh-compose.yaml", """
agents:
  api:
    script: api.py
    args: [--port, "${PORT:-9000}", --name, "${NAME:-api}"]
    healthcheck: {http: "http://127.0.0.1:${PORT:-9000}/health"}
    x-kubernetes: {image: "ghcr.io/acme/api:${TAG:-dev}"}
""")
    unset = loader.load_project([project], environ={}).agents["api"]
    assert unset.external == frozenset()
    set_ = loader.load_project([project], environ={"PORT": "9100", "TAG": "abc"}).agents["api"]
    assert set_.external == {"args[1]", "healthcheck.http", "x-kubernetes.image"}
    assert set_.extensions == {"x-kubernetes": {"image": "ghcr.io/acme/api:abc"}}


def test_provenance_follows_the_value_through_an_override_file(tmp_path: Path) -> None:
    _write(tmp_path, "mesh-compose.yaml", "agents:\n  api:\n    script: api.py\n    environment: {A: '${V}', B: '${V}'}\n")
    _write(tmp_path, "mesh-compose.override.yaml", "agents:\n  api:\n    environment: {A: literal}\n")
    agent = loader.load_project(cwd=tmp_path, environ={"V": "v"}).agents["api"]
    assert agent.external == {"environment.B"}


def test_list_form_environment_keeps_provenance(tmp_path: Path) -> None:
    project = _write(tmp_path, "mesh-compose.yaml",
                     "agents:\n  api:\n    script: api.py\n    environment: [A=$V, B=plain, C]\n")
    agent = loader.load_project([project], environ={"V": "v", "C": "c"}).agents["api"]
    assert agent.external == {"environment.A", "environment.C"}
