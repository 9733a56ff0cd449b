"""Turning an agent's output byte stream into lines, robustly.

A fixed-limit `readline()` crashes or hangs on a huge line without a newline,
and strict decoding crashes on bytes that are not UTF-8 (see the traps in
DESIGN.md). `pump` reads chunks instead, so memory stays bounded by
`max_line` whatever the agent writes, and every line reaches `on_lines`.
"""

from __future__ import annotations

from typing import Callable

import anyio
import anyio.abc
import anyio.lowlevel

from meshcompose.logs.lines import DEFAULT_MAX_LINE, Lines, bounded, complete_lines, decode

_CHUNK = 64 * 1024
_STREAM_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)


async def pump(
    stream: anyio.abc.ByteReceiveStream,
    on_lines: Callable[[Lines], None],
    *,
    max_line: int = DEFAULT_MAX_LINE,
) -> None:
    """Call `on_lines([text, ...])` with the lines of each chunk read from
    `stream`, until it ends. Batches keep the per-line cost of everything
    downstream (console, log file) to a string join.

    Lines are split on `\\n` (a trailing `\\r` is dropped) and decoded as
    UTF-8 with invalid bytes replaced by U+FFFD. A line longer than
    `max_line` arrives as several pieces of at most `max_line` characters.
    An unterminated last line is delivered at end of stream, also when the
    stream breaks or the pump is cancelled. Returns at end of stream.
    """
    rest = b""
    try:
        while True:
            try:
                chunk = await stream.receive(_CHUNK)
            except _STREAM_GONE:
                break
            lines, rest = complete_lines(rest + chunk if rest else chunk, max_line)
            if lines:
                on_lines(lines)
            # A stream that always has data ready never suspends; yield so a
            # fast writer cannot starve the pumps of the other agents.
            await anyio.lowlevel.checkpoint()
    finally:
        if rest:
            on_lines(bounded([decode(rest)], max_line))
