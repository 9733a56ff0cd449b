"""Who could have written a file mesh-compose is about to trust: one rule, as git's safe.directory.

mesh-compose runs what its files say. A project file, an override file, a `.env`, an env_file
and a virtual environment found by discovery are used only when

- the file (the directory, for a venv) belongs to the caller or to root, and is not writable by
  others (the group counts as others, unless it is root's group or the caller's own);
- every directory on the way to it, from `/` down, belongs to the caller or to root and is not
  writable by others, except a sticky one (as /tmp is): there nobody may rename or replace an
  entry they do not own, and the entry is checked in its turn.

The real path is checked (symlinks resolved), and a symlink given in its place must itself belong
to the caller or to root. Whatever the checks refuse, the caller can allow by listing its directory
(or a parent) in MESH_COMPOSE_SAFE_DIRECTORIES, separated like PATH; `*` allows everything. Not
on POSIX (no owners to compare), everything is allowed.

Stdlib only and cheap: `ps` checks the project file it finds.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Union

from meshcompose.errors import EXIT_CONFIG, MeshComposeError

SAFE_DIRECTORIES_VARIABLE = "MESH_COMPOSE_SAFE_DIRECTORIES"
PathLike = Union[str, "os.PathLike[str]"]


class UntrustedPathError(MeshComposeError):
    """A file or directory another user could have written: refused, with the way to allow it."""

    def __init__(self, what: str, path: PathLike, reason: str, exit_code: int = EXIT_CONFIG) -> None:
        self.path = str(path)
        self.reason = reason
        self.exit_code = exit_code
        allow = _allowed_directory(Path(path))
        super().__init__(
            f"refusing {what} {self.path}: {reason}",
            hint=f"if you trust it, allow it: {SAFE_DIRECTORIES_VARIABLE}={allow} "
                 f"(directories separated by '{os.pathsep}', '*' for all), as git's safe.directory",
        )


def _allowed_directory(path: Path) -> str:
    return str(path if os.path.isdir(path) else path.parent)


def owner_name(uid: int) -> str:
    """`nobody (uid 65534)`, or the bare uid when it has no name."""
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def is_trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _writable_by_others(info: os.stat_result) -> bool:
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_IWOTH:
        return True
    return bool(mode & stat.S_IWGRP) and info.st_gid not in (0, os.getegid())


def safe_directories(environ: Mapping[str, str] | None = None) -> list[str]:
    """The directories the caller allows whatever their owner (`*`: every one)."""
    text = (os.environ if environ is None else environ).get(SAFE_DIRECTORIES_VARIABLE, "")
    entries = [entry.strip() for entry in text.split(os.pathsep)]
    return [entry if entry == "*" else os.path.realpath(os.path.expanduser(entry)) for entry in entries if entry]


def is_allowed(path: PathLike, environ: Mapping[str, str] | None = None) -> bool:
    """Listed in MESH_COMPOSE_SAFE_DIRECTORIES: `path` is, or is below, a listed directory."""
    allowed = safe_directories(environ)
    if not allowed:
        return False
    if "*" in allowed:
        return True
    names = {os.path.abspath(path), os.path.realpath(path)}
    return any(name == entry or name.startswith(entry.rstrip(os.sep) + os.sep) for name in names for entry in allowed)


# Verdicts of the directories already walked, while one load or one resolution runs: a project of
# 1,000 agents sharing a venv or an env_file's directory walks each directory once (a stat costs
# ~30 us on a busy machine, and a path has a dozen components to check).
_VERDICTS: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar("verdicts", default=None)


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block, each directory's verdict is found once (per thread: a context variable).
    Nested blocks share the outermost one's."""
    if _VERDICTS.get() is not None:
        yield
        return
    token = _VERDICTS.set({})
    try:
        yield
    finally:
        _VERDICTS.reset(token)


def untrusted_reason(path: PathLike) -> str | None:
    """Why `path` may have been written by another user, or None when it is the caller's or root's.

    A path that does not exist has nothing to distrust (the caller reports it missing)."""
    if os.name != "posix":
        return None
    verdicts = _VERDICTS.get()
    if verdicts is None:
        return _reason(path)
    key = "=" + os.path.abspath(path)  # a file's own verdict, apart from a directory's on the way
    if key not in verdicts:
        verdicts[key] = _reason(path)
    return verdicts[key]


def _reason(path: PathLike) -> str | None:
    try:
        if os.path.islink(path):
            link = os.lstat(path)
            if not is_trusted_owner(link.st_uid):
                return f"the symlink belongs to {owner_name(link.st_uid)}, not to you or root"
        real = Path(os.path.realpath(path))
        return _entry_reason(real) or _ancestors_reason(real)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot check who owns it: {(error.strerror or str(error)).lower()}"


def _entry_reason(real: Path) -> str | None:
    info = os.stat(real)
    if not is_trusted_owner(info.st_uid):
        return f"it belongs to {owner_name(info.st_uid)}, not to you or root"
    if _writable_by_others(info):
        return f"it is writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def _ancestors_reason(real: Path) -> str | None:
    """The first objection to a directory on the way, from `/` down (remembered per directory,
    with everything above it, inside `remembering`)."""
    verdicts = _VERDICTS.get()
    unchecked: list[Path] = []
    verdict: str | None = None
    for directory in real.parents:
        if verdicts is not None and str(directory) in verdicts:
            verdict = verdicts[str(directory)]
            break
        unchecked.append(directory)
    for directory in reversed(unchecked):
        if verdict is None:
            verdict = _directory_reason(directory)
        if verdicts is not None:
            verdicts[str(directory)] = verdict
    return verdict


def _directory_reason(directory: Path) -> str | None:
    info = os.stat(directory)
    if not is_trusted_owner(info.st_uid):
        return f"the directory {directory} on the way to it belongs to {owner_name(info.st_uid)}"
    if _writable_by_others(info) and not info.st_mode & stat.S_ISVTX:
        return (f"the directory {directory} on the way to it is writable by others "
                f"(mode {stat.S_IMODE(info.st_mode):o}): anyone may replace what is in it")
    return None


def check_trusted(path: PathLike, what: str, *, environ: Mapping[str, str] | None = None,
                  exit_code: int = EXIT_CONFIG) -> None:
    """Raise UntrustedPathError unless `path` passes the rule above or is allowed by the setting."""
    reason = untrusted_reason(path)
    if reason is not None and not is_allowed(path, environ):
        raise UntrustedPathError(what, path, reason, exit_code)


def foreign_owner(directory: PathLike, environ: Mapping[str, str] | None = None) -> str | None:
    """The owner of `directory` when it is neither the caller nor root and not allowed, else None:
    where the upward search for a project file stops."""
    if os.name != "posix":
        return None
    try:
        uid = os.stat(directory).st_uid
    except OSError:
        return None
    if is_trusted_owner(uid) or is_allowed(directory, environ):
        return None
    return owner_name(uid)


__all__ = [
    "SAFE_DIRECTORIES_VARIABLE", "UntrustedPathError", "check_trusted", "foreign_owner", "is_allowed",
    "owner_name", "remembering", "safe_directories", "untrusted_reason",
]
