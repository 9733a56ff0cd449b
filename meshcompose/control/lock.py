"""`.mesh-compose/lock`: held by the one supervisor of a project.

The kernel decides who wins (flock / msvcrt.locking), so two `up` started at
the same moment cannot both pass. The holder's pid is written inside so the
loser can name it. Stdlib only.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from meshcompose.control.paths import lock_file, state_dir
from meshcompose.errors import AlreadyRunningError, MeshComposeError
from meshcompose.privatefiles import DamagedFileError, read_bounded

# The winner writes its pid right after locking; a loser waits this long for it.
HOLDER_WAIT_SECONDS = 1.0
MAX_HOLDER_BYTES = 64  # a pid and a newline


class ProjectLock:
    """The project lock; a context manager, or acquire/release by hand."""

    def __init__(self, project_dir: Path, project: str | None = None) -> None:
        self.project_dir = Path(project_dir)
        self.project = project or self.project_dir.name
        self.path = lock_file(self.project_dir, self.project)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int:
        if self._fd is None:
            raise RuntimeError("the lock is not held")
        return self._fd

    def acquire(self) -> None:
        if self._fd is not None:
            return
        state_dir(self.project_dir, self.project)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as error:  # a symlink planted in its place, among others
            raise MeshComposeError(f"cannot open the lock {self.path}: {error.strerror or error}",
                                   hint=f"remove {self.path} if no mesh-compose is running here") from None
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise AlreadyRunningError(self.project, self._holder_pid()) from None
        self._fd = fd
        self.write_holder(os.getpid())

    def adopt(self, fd: int) -> None:
        """Take over a lock inherited from the parent (`up -d`)."""
        self._fd = fd
        self.write_holder(os.getpid())

    def hand_over(self) -> None:
        """Close our descriptor without unlocking: a child that inherited the
        same open file keeps the lock (flock belongs to the open file)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def write_holder(self, pid: int) -> None:
        """Record `pid` as the holder (a detached supervisor inherits the lock)."""
        fd = self.fileno()
        os.ftruncate(fd, 0)
        holder = f"{pid}\n".encode()
        if hasattr(os, "pwrite"):
            # At offset 0, not at the file position: `up -d` and the supervisor it hands the lock to
            # share one open file (so one position), and both write the holder at the hand-over.
            os.pwrite(fd, holder, 0)
        else:  # Windows has no pwrite
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, holder)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def _holder_pid(self) -> int:
        deadline = time.monotonic() + HOLDER_WAIT_SECONDS
        while True:
            pid = holder(self.project_dir, self.project)
            if pid is not None or time.monotonic() > deadline:
                return pid or 0
            time.sleep(0.01)

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(project_dir: Path, project: str) -> int | None:
    """The pid the lock file names as its holder, if it names one (read
    bounded, never through a symlink: the file is not trusted)."""
    try:
        data = read_bounded(lock_file(project_dir, project), MAX_HOLDER_BYTES, missing_ok=True)
    except (OSError, DamagedFileError):
        return None
    text = (data or b"").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 1 << 31 else None


def is_held(project_dir: Path, project: str) -> bool:
    """Whether some process holds the project's lock right now (a supervisor,
    or an `up -d` about to hand it to one). Creates nothing: a project that
    never ran has no lock file, and nobody holds it."""
    try:
        fd = os.open(lock_file(project_dir, project), os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        _lock(fd)
    except OSError:
        return True
    else:
        _unlock(fd)
        return False
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    # Lock a byte far past the pid so readers of the file are not blocked.
    _WIN_LOCK_OFFSET = 1 << 20

    def _lock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
