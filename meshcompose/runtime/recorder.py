"""The observer that keeps every agent's output in its log file."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.logs.logfiles import LogFile, log_path


class LogRecorder:
    """Every line of every agent into `.mesh-compose/logs/NAME.log`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.files: Dict[str, LogFile] = {}

    def agent_lines(self, agent: str, stream: str, lines: List[str]) -> None:
        log = self.files.get(agent)
        if log is None:
            log = self.files[agent] = LogFile(log_path(self.directory, agent))
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
