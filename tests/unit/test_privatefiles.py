"""meshcompose.privatefiles: the one atomic, private write (state file, memo, probe cache)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meshcompose.errors import MeshComposeError
from meshcompose.privatefiles import DamagedFileError, check_private_dir, private_dir, read_bounded, write_atomic

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_a_private_dir_is_created_0700_with_its_parents_and_a_loose_one_refused_unchanged(tmp_path):
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700
    assert mode(tmp_path / "a") == 0o700  # a parent it created is private too
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    for check in (private_dir, check_private_dir):
        with pytest.raises(MeshComposeError, match="readable by others"):
            check(loose)
        assert mode(loose) == 0o755  # refused, never repaired


@posix_only
def test_a_bounded_read_refuses_a_symlink_a_fifo_and_a_file_too_large(tmp_path):
    target = tmp_path / "doc"
    target.write_bytes(b"x" * 10)
    assert read_bounded(target, 10) == b"x" * 10
    assert read_bounded(tmp_path / "missing", 10, missing_ok=True) is None
    with pytest.raises(DamagedFileError, match="more than"):
        read_bounded(target, 9)
    with open(tmp_path / "sparse", "wb") as handle:
        handle.truncate(512 << 20)  # sparse: costs no disk, and must cost no memory
    with pytest.raises(DamagedFileError, match="more than"):
        read_bounded(tmp_path / "sparse", 1 << 20)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(DamagedFileError, match="symlink"):
        read_bounded(tmp_path / "link", 100)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(DamagedFileError, match="not a regular file"):
        read_bounded(tmp_path / "fifo", 100)


@posix_only
def test_a_write_replaces_the_file_whole_and_private(tmp_path):
    target = tmp_path / "doc.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert mode(target) == 0o600
    assert os.listdir(tmp_path) == ["doc.json"]  # no temp file left


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "doc.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half \udc80 written")  # a lone surrogate cannot be encoded
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["doc.json"]


@pytest.mark.parametrize("writer", ["memo", "probe cache", "state file"])
def test_every_writer_uses_it(writer, tmp_path, monkeypatch):
    """The memo, the probe cache and the state file all write through `write_atomic`."""
    from meshcompose import privatefiles

    written = []
    real = privatefiles.write_atomic

    def spy(path, text):
        written.append(Path(path).name)
        real(path, text)

    if writer == "memo":
        from meshcompose.config import memo

        monkeypatch.setattr(memo, "write_atomic", spy)
        memo.Memo("m", tmp_path).put("key", {"a": 1})
        assert memo.Memo("m", tmp_path).get("key") == {"a": 1}
    elif writer == "probe cache":
        import sys

        from meshcompose.pyenv import probe

        monkeypatch.setattr(probe, "write_atomic", spy)
        result = probe.probe_interpreter([sys.executable], ())
        probe.store_cached(tmp_path, sys.executable, result)
    else:
        from meshcompose.control import state

        monkeypatch.setattr(state, "write_atomic", spy)
        store = state.StateStore(tmp_path, "p")
        store.write(state.new_document("p", tmp_path, []))
    assert len(written) == 1
