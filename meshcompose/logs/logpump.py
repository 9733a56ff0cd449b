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

DEFAULT_MAX_LINE = 64 * 1024
Lines = list[str]
_CHUNK = 64 * 1024
_STREAM_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)


def _char_boundary(data: bytes, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence."""
    cut = limit
    # Continuation bytes are 0b10xxxxxx; a sequence is at most 4 bytes long.
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 else limit


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _bounded(lines: Lines, max_line: int) -> Lines:
    """Drop a trailing \r of each line; cut lines longer than `max_line`."""
    out: Lines = []
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if len(line) <= max_line:
            out.append(line)
        else:
            out.extend(line[start : start + max_line] for start in range(0, len(line), max_line))
    return out


def _complete_lines(buffer: bytes, max_line: int) -> tuple[Lines, bytes]:
    """Every finished line of `buffer`, and the unfinished rest (< max_line bytes)."""
    lines: Lines = []
    cut = buffer.rfind(b"\n")
    if cut >= 0:
        # Decoding the block at once is safe: b"\n" never occurs inside a
        # UTF-8 sequence, and it is much faster than per-line decoding.
        lines = _bounded(_decode(buffer[:cut]).split("\n"), max_line)
        buffer = buffer[cut + 1 :]
    while len(buffer) > max_line:
        cut = _char_boundary(buffer, max_line)
        lines.append(_decode(buffer[:cut]))
        buffer = buffer[cut:]
    return lines, buffer


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
            lines, rest = _complete_lines(rest + chunk if rest else chunk, max_line)
            if lines:
                on_lines(lines)
            # A stream that always has data ready never suspends; yield so a
            # fast writer cannot starve the pumps of the other agents.
            await anyio.lowlevel.checkpoint()
    finally:
        if rest:
            on_lines(_bounded([_decode(rest)], max_line))
