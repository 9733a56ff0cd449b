"""`identify`: the project's directory and name as `load` would find them,
without validating the file (what `ps`, `down`, `logs` and `stop` act on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bad_names import BAD_NAMES
from meshcompose.app.project import ProjectSelection, identify
from meshcompose.control import paths
from meshcompose.errors import MeshComposeError, ProjectNotFoundError


def named(tmp_path: Path, *files: str, name: str | None = None, cwd: Path | None = None) -> str:
    return identify(ProjectSelection(files=files, name=name, cwd=cwd or tmp_path)).name


@pytest.fixture(autouse=True)
def no_variable(monkeypatch):
    monkeypatch.delenv("MESH_COMPOSE_PROJECT_NAME", raising=False)


@pytest.mark.parametrize("text, expected", [
    ("name: demo\nagents: {}\n", "demo"),
    ("# c\nname: 'quoted'  # why\nagents: [broken\n", "quoted"),  # an invalid file still has its name
    ('agents:\n  api:\n    name: not-this\nname: "last"\n', "last"),  # only the top-level key
    ("agents: {}\n", None),  # no name: the directory's
    ("name: ${NAME}\nagents: {}\n", None),  # interpolated: not guessed
])
def test_the_file_names_the_project(tmp_path: Path, text: str, expected: str | None):
    project = tmp_path / "My Dir"
    project.mkdir()
    (project / "mesh-compose.yaml").write_text(text)
    assert named(project) == (expected or "my-dir")


def test_p_and_the_variable_win_and_the_override_file_counts(tmp_path: Path, monkeypatch):
    (tmp_path / "mesh-compose.yaml").write_text("name: base\n")
    (tmp_path / "mesh-compose.override.yaml").write_text("name: over\n")
    assert named(tmp_path) == "over"
    monkeypatch.setenv("MESH_COMPOSE_PROJECT_NAME", "env")
    assert named(tmp_path) == "env"
    assert named(tmp_path, name="given") == "given"


def test_bare_and_single_agent_files_are_named_after_the_file(tmp_path: Path):
    (tmp_path / "worker_1.py").write_text("")
    (tmp_path / "solo.yaml").write_text("agent:\n  script: worker_1.py\n")
    assert named(tmp_path, "worker_1.py") == "worker_1"
    assert named(tmp_path, "solo.yaml") == "solo"


def test_without_a_project_file_the_one_project_that_ran_here(tmp_path: Path):
    with pytest.raises(ProjectNotFoundError):
        named(tmp_path)
    paths.state_dir(tmp_path, "agent")
    paths.state_file(tmp_path, "agent").write_text('{"version": 1, "agents": {}}')
    (tmp_path / "agent.py").write_text("")  # a -f naming a missing file is an error of its own
    assert identify(ProjectSelection(cwd=tmp_path)) == identify(ProjectSelection(files=("agent.py",), cwd=tmp_path))
    paths.state_dir(tmp_path, "other")
    paths.state_file(tmp_path, "other").write_text('{"version": 1, "agents": {}}')
    with pytest.raises(MeshComposeError, match="several projects ran .*: agent, other"):
        named(tmp_path)


@pytest.mark.parametrize("source, name", [(source, name) for source in ("file", "-p", "environment")
                                           for name in BAD_NAMES.values()
                                           if source == "file" or "\0" not in name])  # argv and environ hold no NUL
def test_a_bad_name_from_any_source_is_refused_before_any_path(tmp_path: Path, monkeypatch, name: str,
                                                               source: str) -> None:
    """Both ways to a name refuse it: `identify` (ps, down, logs) and the loader (up, config)."""
    import yaml

    from meshcompose.config import loader
    from meshcompose.errors import ConfigError
    from meshcompose.names import InvalidProjectNameError

    file = tmp_path / "mesh-compose.yaml"
    declared = {"name": name} if source == "file" else {}
    file.write_text(yaml.safe_dump({**declared, "agents": {"api": {"script": "api.py"}}}))
    (tmp_path / "api.py").write_text("")
    given = name if source == "-p" else None
    if source == "environment":
        monkeypatch.setenv("MESH_COMPOSE_PROJECT_NAME", name)
    with pytest.raises(InvalidProjectNameError) as caught:
        named(tmp_path, name=given)
    assert "\x1b" not in caught.value.message and "\0" not in caught.value.message
    refused = r"mesh-compose\.yaml:\d+:\d+: name: " if source == "file" else "invalid project name"
    with pytest.raises(ConfigError, match=refused):
        loader.load_project([file], project_name=name if source != "file" else None,
                            environ={}, cwd=tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["api.py", "mesh-compose.yaml"]
