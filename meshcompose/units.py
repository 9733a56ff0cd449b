"""Value converters, pure: durations (`1m30s`, `500ms`, `2h`, `10`), sizes
(`512MB`, `1GiB`) and signal names (`term`, `SIGTERM`, `15`)."""

from __future__ import annotations

import math
import os
import re
import signal

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4,
}


def parse_duration(value: str | int | float) -> float:
    """Seconds from a number or a Go/compose-style duration; finite. Raises ValueError.

    The file's durations and the command line's (`-t`, `--wait-timeout`, `logs --since 10m`)
    are read by this one function, so they take the same forms and get the same errors.
    """
    seconds = _duration(value)
    if not math.isfinite(seconds):
        raise ValueError(f"too large for a duration (got {abridged(value)})")
    return seconds


def _duration(value: str | int | float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration must not be negative: {abridged(value)}")
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return math.inf
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {abridged(value)} (use e.g. 30s, 1m30s, 500ms, 2h or seconds)")
    return total


def abridged(raw: object) -> str:
    """A value as an error quotes it: whole when short, its ends and length when long."""
    text = repr(raw)
    return text if len(text) <= 24 else f"{text[:12]}...{text[-8:]} ({len(text) - 2} characters)"


def parse_size(value: str | int) -> int:
    """Bytes from a number or `512MB` / `1GiB` / `1GB`. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative: {value!r}")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 512MB, 1GiB, 1GB or bytes)")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()])


# Accepted on every platform, so a project written on one runs on another
# (the process layer maps each to what the platform can deliver).
PORTABLE_SIGNALS = frozenset({"SIGTERM", "SIGINT", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGBREAK"})


def parse_signal(value: str | int) -> str:
    """The canonical name of a signal: `term`, `TERM`, `SIGTERM`, `15` -> `SIGTERM`.

    Names this platform knows and the portable ones are accepted. Raises ValueError.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a signal: {value!r}")
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value.strip()):
        value = int(value.strip())  # `kill -s 9`, `stop_signal: "15"`
    if isinstance(value, int):
        try:
            return signal.Signals(value).name
        except ValueError:
            raise ValueError(f"unknown signal number {abridged(value)}") from None
    name = str(value).strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if name not in PORTABLE_SIGNALS and name not in {known.name for known in signal.Signals}:
        raise ValueError(f"unknown signal {abridged(value)} (e.g. SIGTERM, SIGINT, SIGHUP)")
    return name


# What a file system takes (Linux's NAME_MAX and PATH_MAX); longer is refused before the system is asked.
MAX_NAME = 255
MAX_PATH = 4095


def path_problem(text: str | os.PathLike[str]) -> str:
    """Why the system would refuse this path (a NUL character, a name or path too long), or ""."""
    text = os.fspath(text)
    if "\0" in text:
        return "a NUL character cannot be in a path"
    if len(text) > MAX_PATH:
        return f"file name too long ({len(text):,} characters; the limit is {MAX_PATH:,})"
    longest = max((len(part) for part in text.split(os.sep)), default=0)
    if longest > MAX_NAME:
        return f"file name too long (a name of {longest:,} characters; the limit is {MAX_NAME})"
    return ""



def format_duration(seconds: float) -> str:
    """Short human form: `450ms`, `12s`, `5m`, `1h30m`, `2d3h`."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def format_size(size: float) -> str:
    """Binary units with one decimal: `512.0 MiB`, `1.2 GiB`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def plural(count: int, noun: str) -> str:
    """`1 agent`, `2 agents`: never `agent(s)`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
