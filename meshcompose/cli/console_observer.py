"""Renders the supervisor's reports on the terminal through the log multiplexer."""

from __future__ import annotations

from typing import List

from meshcompose.runtime.events import AgentStatus, Notice


class ConsoleObserver:
    def __init__(self, mux) -> None:
        self.mux = mux  # meshcompose.cli.console.ConsoleMux

    def agent_lines(self, agent: str, stream: str, lines: List[str]) -> None:
        self.mux.lines(agent, lines, stream)

    def agent_status(self, status: AgentStatus) -> None:
        pass  # the runner's notices already say what changed, in words

    def notice(self, notice: Notice) -> None:
        self.mux.event(notice.agent, notice.text, notice.level)
