"""Files other users must not read, written so no reader ever sees half of one.

`.mesh-compose/` holds tokens and pids, and the caches hold probe results:
directories are 0700 and files 0600. Every write goes to a temp file in the
same directory and is then renamed over the target (`os.replace` is atomic
on one filesystem), so a concurrent reader, or a writer killed mid-write,
leaves the old document or the new one, never a mix. There is no fsync: it
would protect only against the machine crashing, and it costs ~25 ms a
write on a busy event loop.

Stdlib only, and cheap to import: `ps` reaches it through the state file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from meshcompose.errors import MeshComposeError

PRIVATE_DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create `path` (and its missing parents) with mode 0700, or check the one there.

    A directory that exists must be trustworthy: a real directory (never a
    symlink: it could point anywhere, such as a file of root's), owned by us,
    and private (mode 0700: a readable one may be someone else's, or shared on
    purpose). A check refuses; it never repairs (chmods) a directory this call
    did not create. Anything else, and a directory that cannot be created (a
    read-only project), is a MeshComposeError, not a traceback.
    """
    path = Path(path)
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIR_MODE)  # umask only removes bits: 0700 or tighter
        except FileExistsError:
            pass  # made by someone else in between: checked below like any existing one
        except OSError as error:
            raise MeshComposeError(f"cannot create {directory}: {error.strerror or error}",
                                   hint="run from a directory you can write to") from None
    if os.name == "posix":
        _check_private(path)
    return path


def check_private_dir(path: str | Path) -> None:
    """For readers: if `path` exists, it must pass `private_dir`'s checks
    (MeshComposeError otherwise); a missing one is fine (never ran here)."""
    if os.name == "posix" and os.path.lexists(path):
        _check_private(Path(path))


def _check_private(path: Path) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise MeshComposeError(f"{path} is a symlink or not a directory: refusing to use it",
                               hint=f"remove {path} if you did not create it")
    if info.st_uid != os.geteuid():
        raise MeshComposeError(f"{path} is not owned by you (uid {info.st_uid}): refusing to use it",
                               hint="another user created it; remove it, or run as its owner")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise MeshComposeError(f"{path} is writable by others (mode {mode:o}): refusing to use it",
                               hint=f"chmod 700 {path}, if its content is yours")
    if mode & 0o077:
        raise MeshComposeError(f"{path} is readable by others (mode {mode:o}): refusing to use it",
                               hint=f"chmod 700 {path}, if it is yours and meant for mesh-compose")


def write_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step; the file is 0600.

    The directory must exist. On any failure the temp file is removed and the
    error propagates; the previous content of `path` is untouched.
    """
    path = Path(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


class DamagedFileError(MeshComposeError):
    """A file mesh-compose keeps that cannot be what it wrote (a symlink, not a
    regular file, too large); `reason` says which, in a few words."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path} is damaged ({reason})",
                         hint=f"if no supervisor is running for this project, delete {path}")
        self.path, self.reason = Path(path), reason


def read_bounded(path: str | Path, limit: int, *, missing_ok: bool = False) -> bytes | None:
    """The bytes of a file mesh-compose wrote, read without trusting it: never
    through a symlink, only a regular file, never more than `limit` bytes
    (DamagedFileError otherwise). None for a missing file if `missing_ok`."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise DamagedFileError(path, "it is a symlink") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DamagedFileError(path, "not a regular file")
        if info.st_size > limit:
            raise DamagedFileError(path, f"{info.st_size} bytes, more than the {limit} expected")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise DamagedFileError(path, f"more than the {limit} bytes expected")
        return b"".join(chunks)
    finally:
        os.close(fd)
