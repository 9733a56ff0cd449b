"""meshcompose.control.paths: the private state directory and the short socket path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meshcompose.control import paths
from meshcompose.errors import MeshComposeError
from meshcompose.names import InvalidProjectNameError

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_state_dir_is_created_private_and_a_loose_one_refused_not_repaired(tmp_path):
    assert mode(paths.state_dir(tmp_path, "demo")) == 0o700
    assert mode(tmp_path / ".mesh-compose") == 0o700
    loose = tmp_path / "other" / ".mesh-compose"
    loose.mkdir(parents=True, mode=0o755)
    os.chmod(loose, 0o755)
    with pytest.raises(MeshComposeError, match="readable by others"):
        paths.state_dir(tmp_path / "other", "demo")
    assert mode(loose) == 0o755 and not (loose / "demo").exists()


@pytest.mark.parametrize("name", ["../../..", "..", ".", "a/b", "/abs", "", "a\0b", "x\x1b[2J", "n" * 129, ".hidden",
                                  "-dash", "a\nb", "é"])
def test_no_path_is_built_from_a_name_that_breaks_the_rule(tmp_path, name):
    for build in (paths.state_dir, paths.state_file, paths.lock_file, paths.plan_file, paths.check_state_dir):
        with pytest.raises(InvalidProjectNameError) as caught:
            build(tmp_path, name)
        assert "\x1b" not in caught.value.message and "\0" not in caught.value.message
        assert "\n" not in caught.value.message
    assert os.listdir(tmp_path) == []  # not even `.mesh-compose/`


@pytest.mark.parametrize("name", ["a", "A9", "my-project", "v1.2_x", "n" * 128])
def test_a_name_that_follows_the_rule_is_one_component_below_mesh_compose(tmp_path, name):
    assert paths.state_dir(tmp_path, name) == tmp_path / ".mesh-compose" / name


def test_projects_are_kept_apart_by_name(tmp_path):
    """Two projects run from one directory: each has its own state, lock,
    plan and socket, and `projects_in` lists those that ran."""
    assert paths.projects_in(tmp_path) == []
    for name in ("alpha", "beta"):
        paths.state_dir(tmp_path, name)
        paths.state_file(tmp_path, name).write_text("{}")
    assert paths.state_file(tmp_path, "alpha") != paths.state_file(tmp_path, "beta")
    assert paths.lock_file(tmp_path, "alpha").parent == tmp_path / ".mesh-compose" / "alpha"
    assert paths.socket_path(tmp_path, "alpha") != paths.socket_path(tmp_path, "beta")
    (tmp_path / ".mesh-compose" / "not-a-project").mkdir()  # no state file: never ran
    assert paths.projects_in(tmp_path) == ["alpha", "beta"]


@posix_only
def test_socket_path_is_short_private_and_per_project(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 12)
    deep.mkdir(parents=True)
    path = paths.socket_path(deep, "demo")
    assert len(str(path)) < 100 and len(str(deep)) > 300
    assert path.parent == Path(f"/tmp/mesh-compose-{os.getuid()}")
    assert mode(path.parent) == 0o700
    assert paths.socket_path(deep, "demo") == path
    assert paths.socket_path(tmp_path, "demo") != path


@posix_only
def test_socket_path_uses_a_short_xdg_runtime_dir_only(tmp_path, monkeypatch):
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    if len(str(runtime)) <= 60:
        assert paths.socket_path(tmp_path, "demo").parent == runtime / "mesh-compose"
    long_runtime = tmp_path.joinpath(*["x" * 30] * 3)
    long_runtime.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long_runtime))
    assert paths.socket_path(tmp_path, "demo").parent == Path(f"/tmp/mesh-compose-{os.getuid()}")
