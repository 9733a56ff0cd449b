"""Command-line values read by the project file's rules (units), with the file's errors.

`-t 10`, `--wait-timeout 1m30s` and `logs --since 10m` are durations as the file
writes them (finite, not negative); `kill -s TERM`, `-s SIGHUP`, `-s 9` are
signals as `stop_signal` names them. argparse turns the error into a usage
message, never a traceback.
"""

from __future__ import annotations

import argparse

from meshcompose.units import parse_duration, parse_signal


def duration_argument(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_duration_argument(text: str) -> float:
    """A duration that must be above zero (a timeout to wait for an answer)."""
    seconds = duration_argument(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration above 0 (got {text!r})")
    return seconds


def signal_argument(text: str) -> str:
    try:
        return parse_signal(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
