"""Observers that keep a record: per-agent log files and the state file."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from meshcompose.events import AgentStatus, Notice


class LogRecorder:
    """Every line of every agent into `.mesh-compose/logs/NAME.log`."""

    def __init__(self, directory: Path) -> None:
        from meshcompose.logfiles import LogFile

        self._open = LogFile
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.files: Dict[str, object] = {}

    def path(self, agent: str) -> Path:
        return self.directory / f"{agent}.log"

    def agent_lines(self, agent: str, stream: str, lines: List[str]) -> None:
        log = self.files.get(agent)
        if log is None:
            log = self.files[agent] = self._open(self.path(agent))
        log.write_lines(stream, lines)

    def agent_status(self, status: AgentStatus) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        pass

    def flush(self) -> None:
        for log in self.files.values():
            log.flush()

    def close(self) -> None:
        for log in self.files.values():
            log.close()
        self.files.clear()
