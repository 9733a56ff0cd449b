"""The merged console stream: `NAME | line` for agents, `NAME ⇒ message` for us.

Throughput matters (a chatty agent can write 100k lines/s), so every prefix
is a plain string with its ANSI escapes built once per agent, lines are
joined into a buffer, and the buffer is written in one call. Output is
flushed when 64 KiB are buffered, when a line comes 50 ms or more after the
last flush, and on `flush()`; whoever owns the mux must also call `flush()`
when output goes idle (the supervisor's `recorder.Flusher` does it 50 ms after
output stops).

The caller decides about colour (`meshcompose.cli.render.color_enabled`).
Everything shown passes `safetext.terminal_safe`: an agent's colours
stay where colour is on, every other control sequence it prints (a title,
a clipboard write, a screen clear) arrives as visible text.
A reader that goes away (`mesh-compose up | head`) is not an error: the mux
sets `broken` and drops further output.

A reader that stays but does not read (`up | less`, paused) must never block
the supervisor: its event loop also serves signals and the control socket.
`write_in_background()` hands the output, unless it is a regular file (which
never stops reading), to a `BackgroundWriter`: a thread that does the blocking
writes, behind a bounded buffer (CONSOLE_BUFFER_BYTES). Once a write has
blocked for STALL, what does not fit is dropped and counted, and the reader
is told, once it reads again, with a line "… N lines dropped: the console is
not reading". A writer that is only behind, on a busy machine, loses nothing.
`logs` keeps blocking writes: there a slow reader should slow the reading.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TextIO

from meshcompose.app.logs import utc_timestamp
from meshcompose.safetext import terminal_safe

# Ten hues far apart, handed out in order (the first ten agents never share
# one, and no two are a normal/bright pair of the same hue, which look alike
# on many terminals). No red: red means an error of mesh-compose's own.
PALETTE = ("36", "33", "32", "35", "34",  # cyan, yellow, green, magenta, blue
           "38;5;208", "38;5;141", "38;5;205", "38;5;130", "37")  # orange, violet, pink, brown, grey
RESET = "\x1b[0m"
_LEVEL_STYLE = {"info": "2", "warning": "33", "error": "31;1"}
_LEVEL_WORD = {"info": "", "warning": "warning: ", "error": "error: "}
FLUSH_INTERVAL = 0.05
FLUSH_BYTES = 64 * 1024
CONSOLE_BUFFER_BYTES = 1024 * 1024
# How long a full buffer waits for room, and how long a write may block before
# the reader counts as one that stopped reading.
STALL = 0.25
# At the end of a run, how long to wait for a reader that makes no progress.
DRAIN_PATIENCE = 2.0


class BackgroundWriter:
    """Blocking writes to `fd` in a daemon thread, behind a bounded buffer.

    `submit` waits at most STALL: when the buffer is full it waits for room,
    since a writer that is only behind (not given the CPU on a busy machine)
    makes room at once. When a write has blocked for STALL the reader has
    stopped reading, and data that does not fit is dropped and its lines
    counted; the count is written, as one line, before the next data once the
    reader reads again.
    """

    def __init__(self, fd: int, limit: int = CONSOLE_BUFFER_BYTES) -> None:
        self.fd = fd
        self.limit = limit
        self.broken = False
        self.dropped_lines = 0
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._unreported = 0  # dropped lines not yet told to the reader
        self._writing = False
        self._write_started: float | None = None  # while a write blocks
        self._progress = time.monotonic()
        self._ready = threading.Condition()
        threading.Thread(target=self._run, name="console-writer", daemon=True).start()

    def submit(self, data: bytes) -> None:
        with self._ready:
            deadline = time.monotonic() + STALL
            while self._queued and self._queued + len(data) > self.limit and not self.broken:
                now = time.monotonic()
                if now >= deadline or self._stalled(now):
                    lines = data.count(b"\n")
                    self.dropped_lines += lines
                    self._unreported += lines
                    return
                self._ready.wait(deadline - now)
            if self.broken:
                return
            self._queue.append(data)
            self._queued += len(data)
            self._ready.notify()

    def _stalled(self, now: float) -> bool:
        """A write has blocked for STALL: the reader stopped reading."""
        started = self._write_started
        return started is not None and now - started >= STALL

    def _next(self) -> bytes:
        with self._ready:
            while not self._queue and not self._unreported:
                self._writing = False
                self._ready.notify_all()  # drain() waits for this
                self._ready.wait()
            self._writing = True
            data = b"".join(self._queue)
            self._queue.clear()
            self._queued = 0
            self._ready.notify_all()  # room for a waiting submit
            if self._unreported:
                note = f"\u2026 {self._unreported} lines dropped: the console is not reading\n"
                data = note.encode("utf-8", "replace") + data
                self._unreported = 0
            return data

    def _run(self) -> None:
        while not self.broken:
            view = memoryview(self._next())
            try:
                while view:
                    self._write_started = time.monotonic()
                    view = view[os.write(self.fd, view):]
                    self._write_started = None
                    self._progress = time.monotonic()
            except OSError:
                with self._ready:
                    self.broken = True
                    self._queue.clear()
                    self._writing = False
                    self._ready.notify_all()

    def drain(self, patience: float = DRAIN_PATIENCE) -> None:
        """Wait until everything submitted is written, while the reader makes
        progress; give up after `patience` seconds without any."""
        with self._ready:
            while (self._queue or self._writing) and not self.broken:
                if time.monotonic() - self._progress > patience:
                    return
                self._ready.wait(0.1)


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
        self._writer: BackgroundWriter | None = None
        for name in names:
            self.add_name(name)

    def write_in_background(self) -> None:
        """From now on, never block on the output (see the module docstring)."""
        if self._writer is not None:
            return
        try:
            self.out.flush()
            fd = self.out.fileno()
            regular_file = stat.S_ISREG(os.fstat(fd).st_mode)
        except (OSError, ValueError, AttributeError):
            return  # not a real file: keep writing through it
        if regular_file:
            return  # `up > out.txt`: a file never stops reading, so nothing is dropped
        self._writer = BackgroundWriter(fd)

    def drain(self) -> None:
        """Write out what is buffered, waiting a little for a slow reader."""
        self.flush()
        if self._writer is not None:
            self._writer.drain()

    def add_name(self, name: str) -> None:
        """Make room for another agent; re-pads every prefix if it is wider."""
        if name in self._colors:
            return
        self._names.append(name)
        self._colors[name] = self._pick_color(name)
        self._width = max(self._width, len(terminal_safe(name, color=False)))
        self._prefixes = {n: self._build_prefixes(n) for n in self._names}

    def _pick_color(self, name: str) -> str:
        """The next colour of the palette, in the order agents appear (a hash
        would put two agents on the same or a neighbouring colour)."""
        return PALETTE[len(self._colors) % len(PALETTE)]

    def _build_prefixes(self, name: str) -> tuple:
        padded = terminal_safe(name, color=False).ljust(self._width)
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
        self._write(f"{head}{terminal_safe(text, color=self.color)}\n")

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
        block = "\n".join(texts)  # one search for control characters, however many lines
        safe = terminal_safe(block, color=self.color, newlines=True)
        if safe is block:
            self._write(head + ("\n" + head).join(texts) + "\n")
        else:
            self._write(head + safe.replace("\n", "\n" + head) + "\n")

    def event(self, agent: str | None, message: str, level: str = "info", marker: str | None = None) -> None:
        """A message of mesh-compose's own about `agent` (None: the project);
        `marker` replaces the arrow (watch mode's ⟳), where the terminal can show it."""
        arrow = marker if marker is not None and _can_encode(self.out, marker) else self.arrow
        label = terminal_safe(agent or "", color=False).ljust(self._width)
        message = terminal_safe(message, color=False, newlines=True)
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
        if self._writer is not None:
            self._writer.submit(data.encode(getattr(self.out, "encoding", None) or "utf-8", "replace"))
            self.broken = self._writer.broken
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
