"""The merged console stream: `NAME | line` for agents, `NAME ⇒ message` for us.

Throughput matters (a chatty agent can write 100k lines/s), so every prefix
is a plain string with its ANSI escapes built once per agent, lines are
joined into a buffer, and the buffer is written in one call. Output is
flushed when 64 KiB are buffered, when a line comes 50 ms or more after the
last flush, and on `flush()`; whoever owns the mux must also call `flush()`
when output goes idle (the supervisor's `recorder.Flusher` does it 50 ms after
output stops).

The caller decides about colour (`meshcompose.cli.render.color_enabled`).
A reader that goes away (`mesh-compose up | head`) is not an error: the mux
sets `broken` and drops further output.
"""

from __future__ import annotations

import errno
import os
import time
import zlib
from collections.abc import Sequence
from typing import TextIO

from meshcompose.app.logs import utc_timestamp

# No red: red means an error of mesh-compose's own.
PALETTE = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
RESET = "\x1b[0m"
_LEVEL_STYLE = {"info": "2", "warning": "33", "error": "31;1"}
_LEVEL_WORD = {"info": "", "warning": "warning: ", "error": "error: "}
FLUSH_INTERVAL = 0.05
FLUSH_BYTES = 64 * 1024


def _can_encode(out: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(out, "encoding", None) or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


class ConsoleMux:
    """Interleaves agent lines and mesh-compose events on one text stream."""

    def __init__(
        self,
        out: TextIO,
        names: Sequence[str],
        *,
        color: bool,
        prefix: bool = True,
        timestamps: bool = False,
    ) -> None:
        self.out = out
        self.color = color
        self.prefix = prefix
        self.timestamps = timestamps
        self.broken = False
        self.arrow = "⇒" if _can_encode(out, "⇒") else "=>"
        self._names: list[str] = []
        self._colors: dict[str, str] = {}
        self._prefixes: dict[str, tuple] = {}  # name -> (out prefix, err prefix)
        self._width = 0
        self._buffer: list[str] = []
        self._buffered = 0
        self._last_flush = time.monotonic()
        for name in names:
            self.add_name(name)

    def add_name(self, name: str) -> None:
        """Make room for another agent; re-pads every prefix if it is wider."""
        if name in self._colors:
            return
        self._names.append(name)
        self._colors[name] = self._pick_color(name)
        self._width = max(self._width, len(name))
        self._prefixes = {n: self._build_prefixes(n) for n in self._names}

    def _pick_color(self, name: str) -> str:
        """A stable hash picks the colour; probe past colours already taken."""
        taken = set(self._colors.values())
        start = zlib.crc32(name.encode("utf-8"))
        for step in range(len(PALETTE)):
            candidate = PALETTE[(start + step) % len(PALETTE)]
            if candidate not in taken:
                return candidate
        return PALETTE[start % len(PALETTE)]

    def _build_prefixes(self, name: str) -> tuple:
        padded = name.ljust(self._width)
        if not self.color:
            return f"{padded} | ", f"{padded} | "
        code = self._colors[name]
        # stderr is marked by a red bar only; the layout stays the same.
        return (f"\x1b[{code}m{padded} |{RESET} ", f"\x1b[{code}m{padded} {RESET}\x1b[31m|{RESET} ")

    def line(self, agent: str, text: str, stream: str = "out", *, when: float | str | None = None) -> None:
        """One line of an agent's output; `when` (Unix time or ISO text) for --timestamps."""
        prefixes = self._prefixes.get(agent)
        if prefixes is None:
            self.add_name(agent)
            prefixes = self._prefixes[agent]
        head = (prefixes[1] if stream == "err" else prefixes[0]) if self.prefix else ""
        if self.timestamps:
            head += (when if isinstance(when, str) else utc_timestamp(when)) + " "
        self._write(f"{head}{text}\n")

    def lines(self, agent: str, texts: list[str], stream: str = "out") -> None:
        """A batch of an agent's lines: one string join, however many lines."""
        if self.timestamps or not texts:
            for text in texts:
                self.line(agent, text, stream)
            return
        prefixes = self._prefixes.get(agent)
        if prefixes is None:
            self.add_name(agent)
            prefixes = self._prefixes[agent]
        head = (prefixes[1] if stream == "err" else prefixes[0]) if self.prefix else ""
        self._write(head + ("\n" + head).join(texts) + "\n")

    def event(self, agent: str | None, message: str, level: str = "info", marker: str | None = None) -> None:
        """A message of mesh-compose's own about `agent` (None: the project);
        `marker` replaces the arrow (watch mode's ⟳), where the terminal can show it."""
        arrow = marker if marker is not None and _can_encode(self.out, marker) else self.arrow
        label = (agent or "").ljust(self._width)
        marker = f"{label} {arrow}" if label else arrow
        word = _LEVEL_WORD.get(level, f"{level}: ")
        stamp = utc_timestamp() + " " if self.timestamps else ""
        if not self.color:
            self._write(f"{marker} {stamp}{word}{message}\n")
            return
        code = self._colors.get(agent, "1") if agent else "1"
        style = _LEVEL_STYLE.get(level, "1")
        self._write(f"\x1b[{code};1m{marker}{RESET} {stamp}\x1b[{style}m{word}{message}{RESET}\n")

    def _write(self, text: str) -> None:
        if self.broken:
            return
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= FLUSH_BYTES or time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write out everything buffered; never raises for a reader that left."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        data = "".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        if self.broken:
            return
        try:
            self.out.write(data)
            self.out.flush()
        except (BrokenPipeError, ValueError) as gone:  # ValueError: stream closed
            self._mark_broken(gone)
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.EINVAL):
                raise
            self._mark_broken(error)

    def _mark_broken(self, _error: BaseException) -> None:
        """Stop writing; point the fd at /dev/null so the interpreter's own
        flush at exit does not complain about the closed pipe either."""
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
