"""Log sinks for the supervisor: one import for the pump, files and console.

The pieces live in their own modules (`logpump`, `logfiles`, `console`,
`logread`); this module re-exports them and adds the two observers that
plug them into the supervisor's `meshcompose.events.Observer` seam, plus
`flush_every`, the task that keeps buffered output from going stale.

Typical wiring in the supervisor::

    console = ConsoleMux(sys.stdout, names, color=..., timestamps=...)
    files = LogDirectory(project.state_dir / "logs")
    sinks = FanOut([ConsoleSink(console), files, state_observer])
    tg.start_soon(flush_every, [console, files])
    ...
    await pump(process.stdout, lambda text: sinks.agent_line(name, "out", text))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Dict, Protocol, Sequence

import anyio

from meshcompose.console import ConsoleMux
from meshcompose.logfiles import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, LogFile, log_path
from meshcompose.logpump import DEFAULT_MAX_LINE, pump
from meshcompose.logread import LogFollower, follow, merge_by_time, read_records, tail_records

if TYPE_CHECKING:  # the observer seam; only its shapes are needed here
    from meshcompose.events import AgentStatus, Notice

__all__ = [
    "ConsoleMux", "ConsoleSink", "LogDirectory", "LogFile", "LogFollower", "pump", "flush_every",
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


class ConsoleSink:
    """Observer: agent lines and notices to a ConsoleMux (statuses are silent;
    the supervisor says what matters about them as notices)."""

    def __init__(self, console: ConsoleMux) -> None:
        self.console = console

    def agent_line(self, agent: str, stream: str, text: str) -> None:
        self.console.line(agent, text, stream)

    def agent_status(self, status: AgentStatus) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        self.console.event(notice.agent, notice.text, notice.level)

    def flush(self) -> None:
        self.console.flush()


class LogDirectory:
    """Observer: each agent's lines to `DIR/NAME.log`, opened on first line."""

    def __init__(self, log_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.log_dir = Path(log_dir)
        self.max_bytes, self.backups = max_bytes, backups
        self._files: Dict[str, LogFile] = {}

    def file(self, agent: str) -> LogFile:
        found = self._files.get(agent)
        if found is None:
            found = LogFile(log_path(self.log_dir, agent), max_bytes=self.max_bytes, backups=self.backups)
            self._files[agent] = found
        return found

    def agent_line(self, agent: str, stream: str, text: str) -> None:
        self.file(agent).write(stream, text)

    def agent_status(self, status: AgentStatus) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        pass

    def flush(self) -> None:
        for log_file in self._files.values():
            log_file.flush()

    def close(self) -> None:
        for log_file in self._files.values():
            log_file.close()
        self._files.clear()
