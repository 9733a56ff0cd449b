"""One line of an agent log file: the on-disk record format, pure.

A record is one line of `.mesh-compose/logs/NAME.log`::

    2024-05-01T12:00:00.123456Z out hello world
    2024-05-01T12:00:00.200001Z err Traceback (most recent call last):

that is `<UTC timestamp, ISO-8601, microseconds, Z> <stream: out|err> <text>`.
The timestamp has a fixed width, so records sort by time as plain strings,
which is how `logs` interleaves agents without parsing dates.
"""

from __future__ import annotations

import re
import time
from typing import NamedTuple

# `run`: the separator a supervisor writes at the start of each run (`run_record`).
# `watch`: watch mode's word on the agent (a reload, a rejected edit).
STREAMS = ("out", "err", "run", "watch")
RUN_STREAM = "run"
WATCH_STREAM = "watch"
TIMESTAMP_WIDTH = len("2024-05-01T12:00:00.123456Z")


class Record(NamedTuple):
    """A parsed log line; `when` is the timestamp exactly as written. (A
    NamedTuple, not a dataclass: the log keeper process imports this module,
    and dataclasses brings inspect and ast, ~1.5 MB, with it.)"""

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


def run_record_text(pid: int) -> str:
    """The text of the separator record a run starts each agent's log with."""
    return f"started (pid {pid})"


def parse_time_point(text: str, now: float | None = None) -> str:
    """`logs --since/--until`, as compose takes them: an RFC 3339 timestamp
    (`2026-11-25T12:00:00Z`, an offset, or a date), a Unix time (`1764072000`),
    or a duration before now (`10m`, `1h30m`). Returns it in the record
    format, so records compare with it as text. Raises ValueError."""
    from datetime import datetime, timezone

    from meshcompose.units import parse_duration

    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return utc_timestamp(float(value))
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in "zZ" and value else value)
    except ValueError:
        moment = None
    if moment is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return utc_timestamp(moment.timestamp())
    try:
        ago = parse_duration(value)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use e.g. 2026-11-25T12:00:00Z, 10m or 1h30m)") from None
    return utc_timestamp((time.time() if now is None else now) - ago)
