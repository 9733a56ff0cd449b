"""`ps --watch`: the table redrawn in place every second until Ctrl+C (as
watch(1) would, without a shell): the cursor goes home, each line is
rewritten and the rest of the screen cleared, so nothing flickers."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from meshcompose.app.ps import PsResult, Row

INTERVAL_SECONDS = 1.0
HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"


def watch_table(read: Callable[[], PsResult], table: Callable[[Sequence[Row], bool], str],
                interval: float = INTERVAL_SECONDS) -> int:
    out = sys.stdout
    out.write("\x1b[2J")
    try:
        while True:
            out.write(HOME + frame(read(), table) + CLEAR_BELOW)
            out.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        out.write("\n")
        return 0


def frame(result: PsResult, table: Callable[[Sequence[Row], bool], str]) -> str:
    stamp = time.strftime("%H:%M:%S")
    head = f"every {INTERVAL_SECONDS:g}s, Ctrl+C to stop   {stamp}"
    if result.orphaned:
        head += f"   supervisor gone; orphaned: {', '.join(result.orphaned)}"
    body = table(result.rows, result.mesh) if result.rows else (
        "no agents running\n" if result.ran else "no agents running (the project has not run here yet)\n")
    return "".join(line + CLEAR_LINE + "\n" for line in [head, "", *body.rstrip("\n").split("\n")])
