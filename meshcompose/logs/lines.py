"""Splitting an agent's output bytes into bounded lines (no I/O here).

Shared by the supervisor's pump (`logpump`) and the log keeper, which must
stay a small process: the standard library only.
"""

from __future__ import annotations

DEFAULT_MAX_LINE = 64 * 1024
Lines = list[str]


def _char_boundary(data: bytes, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence."""
    cut = limit
    # Continuation bytes are 0b10xxxxxx; a sequence is at most 4 bytes long.
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 else limit


def decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def bounded(lines: Lines, max_line: int) -> Lines:
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


def complete_lines(buffer: bytes, max_line: int) -> tuple[Lines, bytes]:
    """Every finished line of `buffer`, and the unfinished rest (< max_line bytes)."""
    lines: Lines = []
    cut = buffer.rfind(b"\n")
    if cut >= 0:
        # Decoding the block at once is safe: b"\n" never occurs inside a
        # UTF-8 sequence, and it is much faster than per-line decoding.
        lines = bounded(decode(buffer[:cut]).split("\n"), max_line)
        buffer = buffer[cut + 1 :]
    while len(buffer) > max_line:
        cut = _char_boundary(buffer, max_line)
        lines.append(decode(buffer[:cut]))
        buffer = buffer[cut:]
    return lines, buffer
