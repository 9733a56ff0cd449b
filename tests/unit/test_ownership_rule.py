"""The ownership rule on real files and owners (root and nobody; we need root to chown)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshcompose import ownership

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="chown needs root")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    os.chmod(tmp_path, 0o755)
    return tmp_path


def test_the_callers_file_in_a_private_tree_is_trusted(tree: Path):
    (tree / "f").write_text("x")
    assert ownership.untrusted_reason(tree / "f") is None


def test_another_users_file_is_named_with_its_owner(tree: Path):
    (tree / "f").write_text("x")
    os.chown(tree / "f", NOBODY, NOBODY)
    assert ownership.untrusted_reason(tree / "f") == "it belongs to nobody (uid 65534), not to you or root"


@pytest.mark.parametrize(("mode", "gid", "trusted"), [
    (0o664, 0, True), (0o664, NOBODY, False), (0o646, 0, False), (0o644, NOBODY, True),
])
def test_writable_by_the_group_counts_unless_it_is_roots_or_the_callers(tree: Path, mode: int, gid: int,
                                                                         trusted: bool):
    (tree / "f").write_text("x")
    os.chown(tree / "f", 0, gid)
    os.chmod(tree / "f", mode)
    assert (ownership.untrusted_reason(tree / "f") is None) is trusted


def test_a_sticky_world_writable_directory_on_the_way_is_fine_but_not_a_plain_one(tree: Path):
    shared = tree / "shared"
    shared.mkdir()
    (shared / "f").write_text("x")
    os.chmod(shared, 0o1777)
    assert ownership.untrusted_reason(shared / "f") is None
    os.chmod(shared, 0o777)
    assert "on the way to it is writable by others (mode 777)" in (ownership.untrusted_reason(shared / "f") or "")


def test_a_directory_of_another_user_on_the_way_is_refused(tree: Path):
    theirs = tree / "theirs"
    (theirs / "mine").mkdir(parents=True)
    (theirs / "mine" / "f").write_text("x")
    os.chown(theirs, NOBODY, NOBODY)
    assert ownership.untrusted_reason(theirs / "mine" / "f") == (
        f"the directory {theirs} on the way to it belongs to nobody (uid 65534)")


def test_a_symlink_of_another_user_is_refused_even_to_a_trusted_file(tree: Path):
    (tree / "real").write_text("x")
    (tree / "link").symlink_to(tree / "real")
    os.chown(tree / "link", NOBODY, NOBODY, follow_symlinks=False)
    assert "the symlink belongs to nobody" in (ownership.untrusted_reason(tree / "link") or "")


def test_the_real_path_is_checked(tree: Path):
    theirs = tree / "theirs"
    theirs.mkdir()
    (theirs / "f").write_text("x")
    os.chown(theirs / "f", NOBODY, NOBODY)
    (tree / "link").symlink_to(theirs / "f")
    assert "belongs to nobody" in (ownership.untrusted_reason(tree / "link") or "")


def test_a_missing_file_has_nothing_to_distrust(tree: Path):
    assert ownership.untrusted_reason(tree / "missing") is None


def test_safe_directories_allow_what_is_below_them_and_star_allows_all(tree: Path):
    (tree / "ab").mkdir()
    variable = ownership.SAFE_DIRECTORIES_VARIABLE
    assert ownership.is_allowed(tree / "a" / "f", {variable: f"/elsewhere{os.pathsep}{tree / 'a'}"})
    assert ownership.is_allowed(tree / "a", {variable: str(tree / "a")})
    assert not ownership.is_allowed(tree / "ab" / "f", {variable: str(tree / "a")})
    assert ownership.is_allowed("/anything", {variable: "*"})
    assert not ownership.is_allowed(tree / "a", {})


def test_a_refusal_names_the_file_its_owner_and_the_setting(tree: Path):
    (tree / "f").write_text("x")
    os.chown(tree / "f", NOBODY, NOBODY)
    with pytest.raises(ownership.UntrustedPathError) as caught:
        ownership.check_trusted(tree / "f", "the env file", environ={})
    assert caught.value.message == f"refusing the env file {tree / 'f'}: it belongs to nobody (uid 65534), not to you or root"
    assert f"MESH_COMPOSE_SAFE_DIRECTORIES={tree}" in (caught.value.hint or "")
    assert caught.value.exit_code == 3
    ownership.check_trusted(tree / "f", "the env file", environ={ownership.SAFE_DIRECTORIES_VARIABLE: str(tree)})


def test_remembered_verdicts_keep_each_files_own(tree: Path):
    """Inside one load, directories are walked once; each file is still judged on its own."""
    (tree / "mine").write_text("x")
    (tree / "theirs").write_text("x")
    os.chown(tree / "theirs", NOBODY, NOBODY)
    shared = tree / "shared"
    shared.mkdir()
    (shared / "f").write_text("x")
    with ownership.remembering():
        assert ownership.untrusted_reason(tree / "mine") is None
        assert "belongs to nobody" in (ownership.untrusted_reason(tree / "theirs") or "")
        assert ownership.untrusted_reason(shared / "f") is None
        with ownership.remembering():
            assert ownership.untrusted_reason(tree / "mine") is None
    os.chmod(shared, 0o777)
    assert "writable by others" in (ownership.untrusted_reason(shared / "f") or "")
