"""The machine-wide index of running projects, for `ls`.

Each supervisor registers itself as a small JSON file in the short private
runtime directory (`paths.runtime_dir()`, 0700): its pid and create time,
the project's name, directory and files. The file is removed when the
supervisor ends. A supervisor killed with SIGKILL cannot remove it, so
readers check the pid and create time and ignore (and tidy away) stale
entries: an entry never makes a dead project look alive.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from meshcompose.control.paths import runtime_dir
from meshcompose.names import valid_project_name
from meshcompose.privatefiles import DamagedFileError, read_bounded, write_atomic
from meshcompose.proc.identity import process_alive

SUFFIX = ".project.json"
MAX_ENTRY_BYTES = 64 << 10  # an entry is a few hundred bytes


@dataclass(frozen=True)
class IndexEntry:
    name: str
    directory: str
    files: tuple[str, ...]
    pid: int
    create_time: float

    @property
    def alive(self) -> bool:
        return process_alive(self.pid, self.create_time)


def entry_path(name: str, directory: Path) -> Path:
    """One file per project (name + directory), so two projects never share one."""
    digest = hashlib.sha256(f"{name}\0{directory}".encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}{SUFFIX}"


def register(name: str, directory: Path, files: Sequence[str], pid: int, create_time: float) -> Path:
    path = entry_path(name, directory)
    entry = IndexEntry(name, str(directory), tuple(str(f) for f in files), pid, create_time)
    write_atomic(path, json.dumps(asdict(entry)))
    return path


def entry_for(name: str, directory: Path) -> IndexEntry | None:
    """The registration of the project `name` run from `directory`, if any (alive or not)."""
    return _read(entry_path(name, directory))


def unregister(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def entries(*, include_stale: bool = False) -> list[IndexEntry]:
    """The registered projects, sorted by name; stale ones are removed unless asked for."""
    found = []
    for path in sorted(runtime_dir().glob(f"*{SUFFIX}")):
        entry = _read(path)
        if entry is None:
            continue
        if not entry.alive and not include_stale:
            unregister(path)
            continue
        found.append(entry)
    return sorted(found, key=lambda entry: (entry.name, entry.directory))


def _read(path: Path) -> IndexEntry | None:
    try:
        raw = json.loads(read_bounded(path, MAX_ENTRY_BYTES) or b"")
        if not valid_project_name(raw["name"]):
            return None  # no supervisor of ours registers such a name
        return IndexEntry(raw["name"], str(raw["directory"]), tuple(str(f) for f in raw["files"]),
                          int(raw["pid"]), float(raw["create_time"]))
    except (OSError, ValueError, KeyError, TypeError, RecursionError, DamagedFileError):
        return None  # half-written by another version, or damaged: not a project we can show
