"""Reading agent log files for `mesh-compose logs`: history, tail, merge, follow.

Pure file work, no printing and no anyio, so `logs` starts fast. Agents are
interleaved by the records' timestamps (fixed-width strings, compared as
text); records of one agent keep their file order.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Callable

from meshcompose.logs.logfiles import agent_log_paths, agents_with_logs, log_path
from meshcompose.logs.logrecord import Record, parse_record

_BLOCK = 64 * 1024


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


def _parse_lines(lines: Iterable[bytes], agent: str, fallback: list[str]) -> Iterator[Record]:
    """Parse lines; `fallback[0]` carries the last good timestamp across calls."""
    for raw in lines:
        record = parse_record(_decode(raw), agent, fallback[0])
        fallback[0] = record.when
        yield record


def read_records(paths: Sequence[Path], agent: str = "") -> Iterator[Record]:
    """Every record of these files, in order (pass oldest file first), lazily."""
    fallback = [""]
    for path in paths:
        try:
            handle = open(path, "rb")  # noqa: SIM115 (the try covers only the open; `with handle` closes it)
        except FileNotFoundError:
            continue  # rotated away between listing and opening
        with handle:
            yield from _parse_lines((line.rstrip(b"\n") for line in handle), agent, fallback)


def last_lines(path: Path, count: int, end: int | None = None) -> list[bytes]:
    """The last `count` lines of the first `end` bytes of a file, read backwards."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (the try covers only the open; `with handle` closes it)
    except FileNotFoundError:
        return []
    with handle:
        position = os.fstat(handle.fileno()).st_size if end is None else end
        blocks: list[bytes] = []
        newlines = 0
        while position > 0 and newlines <= count:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            blocks.append(handle.read(step))
            newlines += blocks[-1].count(b"\n")
    lines = b"".join(reversed(blocks)).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines[-count:] if count > 0 else []


def _lines_upto(path: Path, end: int | None = None) -> Iterator[bytes]:
    """The lines of the first `end` bytes of a file (all if None), one at a time."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (the try covers only the open; `with handle` closes it)
    except FileNotFoundError:
        return
    with handle:
        left = end
        for line in handle:
            if left is not None:
                if left <= 0:
                    return
                line = line[:left]
                left -= len(line)
            yield line.rstrip(b"\n")


def _all_records(paths: Sequence[Path], current: Path, agent: str, end: int | None) -> Iterator[Record]:
    """Every record, oldest file first, streamed: memory stays one line deep."""
    fallback = [""]
    for path in paths:
        yield from _parse_lines(_lines_upto(path, end if path == current else None), agent, fallback)


def tail_records(log_dir: Path, agent: str, count: int | None, end: int | None = None) -> Iterable[Record]:
    """The agent's last `count` records (all if None, streamed), rotated files included.

    `end` limits the current file to its first `end` bytes, so a follower that
    starts at that offset neither repeats nor misses a line.
    """
    paths = agent_log_paths(log_dir, agent)
    current = log_path(log_dir, agent)
    if count is None:
        return _all_records(paths, current, agent, end)
    found: list[list[bytes]] = []
    wanted = count
    for path in reversed(paths):
        if wanted <= 0:
            break
        lines = last_lines(path, wanted, end if path == current else None)
        found.insert(0, lines)
        wanted -= len(lines)
    return list(_parse_lines((line for chunk in found for line in chunk), agent, [""]))


def merge_by_time(streams: Iterable[Iterable[Record]]) -> Iterator[Record]:
    """Interleave per-agent record streams by timestamp (stable on ties)."""
    return heapq.merge(*streams, key=lambda record: record.when)


class _FollowedFile:
    """One agent's current log file, read incrementally across rotation."""

    def __init__(self, agent: str, path: Path, at_end: bool) -> None:
        self.agent, self.path = agent, path
        self.handle: BinaryIO | None = None
        self.pending = b""
        self.fallback = [""]
        self.offset = 0
        self._reopen(at_end)

    def _reopen(self, at_end: bool) -> None:
        if self.handle:
            self.handle.close()
        try:
            self.handle = open(self.path, "rb")  # noqa: SIM115 (held across polls; close() closes it)
        except FileNotFoundError:
            self.handle = None
            return
        if at_end:
            self.handle.seek(0, os.SEEK_END)
        self.offset = self.handle.tell()

    def _drain(self) -> bytes:
        if not self.handle:
            return b""
        if os.fstat(self.handle.fileno()).st_size < self.offset:  # truncated in place
            self.handle.seek(0)
            self.pending = b""
        data = self.handle.read()
        self.offset = self.handle.tell()
        return data

    def _replaced(self) -> bool:
        """True when the path now names another file (rotated) or none."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return self.handle is not None
        if self.handle is None:
            return True
        mine = os.fstat(self.handle.fileno())
        return (on_disk.st_ino, on_disk.st_dev) != (mine.st_ino, mine.st_dev)

    def read_new(self) -> list[Record]:
        data = self._drain()
        if self._replaced():
            data += self._drain()  # what the writer added just before rotating
            self._reopen(at_end=False)
            data += self._drain()
        if not data:
            return []
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        return list(_parse_lines(lines, self.agent, self.fallback))

    def close(self) -> None:
        if self.handle:
            self.handle.close()
            self.handle = None


class LogFollower:
    """New records of a project's agents since it was created, poll by poll.

    `agents=None` follows every agent, including agents whose log file
    appears later. Files that exist when the follower is created are read
    from their current end (`offsets()` tells where, for `tail_records`);
    files that appear later are read from their beginning.
    """

    def __init__(self, log_dir: Path, agents: Sequence[str] | None = None) -> None:
        self.log_dir = log_dir
        self.agents = list(agents) if agents is not None else None
        self._files: dict[str, _FollowedFile] = {}
        self._discover(at_end=True)

    def _discover(self, at_end: bool) -> None:
        names = self.agents if self.agents is not None else agents_with_logs(self.log_dir)
        for name in names:
            if name not in self._files:
                path = log_path(self.log_dir, name)
                if at_end or path.exists():
                    self._files[name] = _FollowedFile(name, path, at_end)

    def offsets(self) -> dict[str, int]:
        return {name: f.offset for name, f in self._files.items() if f.handle}

    def poll(self) -> list[Record]:
        """Complete records written since the last poll, interleaved by time."""
        self._discover(at_end=False)
        batches = [followed.read_new() for followed in self._files.values()]
        return list(merge_by_time(batches))

    def close(self) -> None:
        for followed in self._files.values():
            followed.close()


def follow(
    follower: LogFollower,
    *,
    interval: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    ended: Callable[[], bool] = lambda: False,
) -> Iterator[list[Record]]:
    """Batches of new records until `ended()` says nothing more will come
    (asked only when idle; one last read follows it, so the final lines of
    an agent that just ended are not lost), or the caller stops on Ctrl+C."""
    while True:
        batch = follower.poll()
        if batch:
            yield batch
        elif ended():
            last = follower.poll()
            if last:
                yield last
            return
        else:
            sleep(interval)
