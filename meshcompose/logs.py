"""Log sinks for the supervisor: one import for the pump, files and console.

The pieces live in their own modules (`logpump`, `logfiles`, `console`,
`logread`); this module re-exports them and adds `flush_every`, the task
that keeps buffered console and file output from going stale when idle::

    console = ConsoleMux(sys.stdout, names, color=..., timestamps=...)
    tg.start_soon(flush_every, [console, *log_files])
    await pump(process.stdout, lambda text: console.line(name, text))

The `logs` command imports `logread`, `logfiles` and `console` directly:
this module pulls in anyio, which `logs` does not need.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import anyio

from meshcompose.console import ConsoleMux
from meshcompose.logfiles import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, LogFile
from meshcompose.logpump import DEFAULT_MAX_LINE, pump
from meshcompose.logread import LogFollower, follow, merge_by_time, read_records, tail_records

__all__ = [
    "ConsoleMux", "LogFile", "LogFollower", "pump", "flush_every",
    "follow", "merge_by_time", "read_records", "tail_records",
    "DEFAULT_BACKUPS", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_LINE",
]


class Flushable(Protocol):
    def flush(self) -> None: ...


async def flush_every(sinks: Sequence[Flushable], interval: float = 0.05) -> None:
    """Flush the sinks every `interval` seconds until cancelled, then once more."""
    try:
        while True:
            await anyio.sleep(interval)
            for sink in sinks:
                sink.flush()
    finally:
        for sink in sinks:
            sink.flush()
