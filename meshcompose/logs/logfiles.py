"""Per-agent log files with size-based rotation.

Layout and defaults (docs/architecture.md cites this docstring):

- Every agent's stdout and stderr go to `.mesh-compose/logs/NAME.log` in the
  project directory, one record per line (format in `meshcompose.logs.logrecord`):
  `<UTC timestamp ISO-8601 with microseconds>Z <out|err> <text>`.
- Rotation by size: when a record would make the file exceed `max_bytes`
  (default 10 MiB, `DEFAULT_MAX_BYTES`), `NAME.log` is renamed `NAME.log.1`,
  older files shift to `.2`, `.3`, … up to `backups` (default 3,
  `DEFAULT_BACKUPS`; the oldest is deleted) and a new `NAME.log` is begun.
  So one agent keeps at most (backups + 1) × max_bytes ≈ 40 MiB of logs.
- Files are created with mode 0600 (logs may contain secrets); a restarted
  supervisor appends to the existing file.
- A write that fails (a full disk: ENOSPC, EDQUOT, EIO) never raises: the
  lines are dropped and counted in `dropped_bytes`, `failure` holds the
  error, and the next write tries again, so logging resumes when space is
  freed. An agent must never stop because its log could not be written.
- Writes are buffered: a `LogFile` writes to disk when its buffer holds
  64 KiB, when a write comes 0.2 s or more after the last flush, on `flush()`
  and on `close()`. An idle file must be flushed by its owner (the
  supervisor's `recorder.Flusher`).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

from meshcompose.logs.logrecord import format_record, utc_timestamp

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3
FLUSH_INTERVAL = 0.2  # seconds; `logs -f` sees a line at most this late
FLUSH_BYTES = 64 * 1024
LOG_SUFFIX = ".log"


def log_path(log_dir: Path, agent: str) -> Path:
    return log_dir / f"{agent}{LOG_SUFFIX}"


def rotated_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


def agent_log_paths(log_dir: Path, agent: str, backups: int = DEFAULT_BACKUPS) -> list[Path]:
    """The agent's existing files, oldest first: NAME.log.3 … NAME.log.1, NAME.log."""
    current = log_path(log_dir, agent)
    older = [rotated_path(current, i) for i in range(max(backups, _highest_backup(current)), 0, -1)]
    return [p for p in [*older, current] if p.is_file()]


def _highest_backup(current: Path) -> int:
    """Backups written with a larger `backups` setting are still read."""
    highest = 0
    prefix = current.name + "."
    try:
        names = os.listdir(current.parent)
    except OSError:
        return 0
    for name in names:
        suffix = name[len(prefix):] if name.startswith(prefix) else ""
        if suffix.isdigit():
            highest = max(highest, int(suffix))
    return highest


def agents_with_logs(log_dir: Path) -> list[str]:
    """Agent names that have a current log file, sorted."""
    try:
        names = os.listdir(log_dir)
    except OSError:
        return []
    return sorted(n[: -len(LOG_SUFFIX)] for n in names if n.endswith(LOG_SUFFIX) and len(n) > len(LOG_SUFFIX))


def open_private(path: Path) -> int:
    """An append descriptor for `path`: created 0600, never through a symlink
    (O_NOFOLLOW), refused unless it is a regular file owned by us."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o600)  # O_NONBLOCK: a planted FIFO never blocks us
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (hasattr(os, "geteuid") and info.st_uid != os.geteuid()):
            raise PermissionError(errno.EPERM, "not a regular file of ours", str(path))
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def rotate_files(path: Path, backups: int) -> None:
    """Shift `path.N` to `path.N+1` (the oldest beyond `backups` is overwritten)
    and `path` to `path.1`; with no backups, delete `path`."""
    if backups <= 0:
        path.unlink(missing_ok=True)
        return
    for index in range(backups - 1, 0, -1):
        older = rotated_path(path, index)
        if older.exists():
            os.replace(older, rotated_path(path, index + 1))
    os.replace(path, rotated_path(path, 1))


class LogFile:
    """One agent's log file: buffered appends of records, rotated by size.

    Not thread-safe; meant to be used from the supervisor's event loop.
    """

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._last_flush = time.monotonic()
        self._fd: int | None = None
        self._closed = False
        self._size = 0  # bytes on disk in the current file
        self.dropped_bytes = 0  # lines lost to failed writes (a full disk)
        self.failure: OSError | None = None  # the last write error, None once writes succeed again
        self._open()

    def _open(self) -> None:
        """Open (or create, 0600, never through a symlink) the current file;
        a failure is recorded, not raised: the next write tries again."""
        try:
            self._fd = open_private(self.path)
            self._size = os.fstat(self._fd).st_size
        except OSError as error:
            self._fd = None
            self.failure = error

    def write(self, stream: str, text: str, when: float | None = None) -> None:
        """Append one record; `when` defaults to now (Unix time)."""
        self._append(format_record(stream, text, when).encode("utf-8", "replace"))

    def write_lines(self, stream: str, texts: list[str], when: float | None = None) -> None:
        """Append a batch of records sharing one timestamp (the lines of one read)."""
        head = f"{utc_timestamp(when)} {stream} "
        body = ("\n" + head).join(text.replace("\n", "\\n") for text in texts)
        self._append(f"{head}{body}\n".encode("utf-8", "replace"))

    def _append(self, data: bytes) -> None:
        if self._closed:
            raise ValueError(f"log file {self.path} is closed")
        if self._fd is None:
            self._open()
            if self._fd is None:
                self.dropped_bytes += len(data)
                return
        if self._size + self._buffered + len(data) > self.max_bytes and self._size + self._buffered > 0:
            self._rotate()
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= FLUSH_BYTES or time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered to the file (one write call)."""
        self._last_flush = time.monotonic()
        if not self._buffer or self._fd is None:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self._size += written
        except OSError as error:
            self.dropped_bytes += len(view)
            self.failure = error
        else:
            self.failure = None

    def _rotate(self) -> None:
        """Flush into the current file, shift NAME.log.N up by one, start anew."""
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            rotate_files(self.path, self.backups)
        except OSError as error:
            self.failure = error  # keep appending to the current file
        self._open()

    def close(self) -> None:
        self._closed = True
        if self._fd is None:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
