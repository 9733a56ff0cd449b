"""One line of an agent log file: the on-disk record format, pure.

A record is one line of `.mesh-compose/logs/NAME.log`::

    2024-05-01T12:00:00.123456Z out hello world
    2024-05-01T12:00:00.200001Z err Traceback (most recent call last):

that is `<UTC timestamp, ISO-8601, microseconds, Z> <stream: out|err> <text>`.
The timestamp has a fixed width, so records sort by time as plain strings,
which is how `logs` interleaves agents without parsing dates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

STREAMS = ("out", "err")
TIMESTAMP_WIDTH = len("2024-05-01T12:00:00.123456Z")


@dataclass(frozen=True)
class Record:
    """A parsed log line; `when` is the timestamp exactly as written."""

    when: str
    stream: str
    text: str
    agent: str = ""


class _SecondCache:
    """strftime once per second: formatting is on the path of every line."""

    second: int | None = None
    prefix: str = ""


_cache = _SecondCache()


def utc_timestamp(when: float | None = None) -> str:
    """`2024-05-01T12:00:00.123456Z` for a Unix time (default: now)."""
    if when is None:
        when = time.time()
    second = int(when)
    micro = int((when - second) * 1_000_000)
    if second != _cache.second:
        _cache.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _cache.second = second
    return f"{_cache.prefix}.{micro:06d}Z"


def format_record(stream: str, text: str, when: float | None = None) -> str:
    """The line written to disk, newline included.

    A newline inside `text` would break the one-record-per-line contract, so
    it is escaped; the pump never produces one, but other callers might.
    """
    if "\n" in text:
        text = text.replace("\n", "\\n")
    return f"{utc_timestamp(when)} {stream} {text}\n"


def _looks_like_timestamp(word: str) -> bool:
    return len(word) == TIMESTAMP_WIDTH and word.endswith("Z") and word[4] == "-" and word[10] == "T"


def parse_record(line: str, agent: str = "", fallback_when: str = "") -> Record:
    """Parse one line (without its newline).

    A line that is not a record (hand-edited file, a foreign writer) is kept
    as output text stamped `fallback_when`, so nothing is silently dropped.
    """
    parts = line.split(" ", 2)
    if len(parts) >= 2 and parts[1] in STREAMS and _looks_like_timestamp(parts[0]):
        return Record(parts[0], parts[1], parts[2] if len(parts) == 3 else "", agent)
    return Record(fallback_when, "out", line, agent)
