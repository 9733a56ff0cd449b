"""Renders a foreground run on the terminal through the log multiplexer: the
console the CLI hands to `app.up` (an observer of the supervisor, flushed
when output goes idle). Its writes never block the supervisor
(`ConsoleMux.write_in_background`); `close()` drains them at the end."""

from __future__ import annotations

from meshcompose.app.observer import AgentStatus, Notice
from meshcompose.cli.console import ConsoleMux


class ConsoleObserver:
    def __init__(self, mux: ConsoleMux) -> None:
        self.mux = mux
        mux.write_in_background()

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        self.mux.lines(agent, lines, stream)

    def agent_status(self, status: AgentStatus) -> None:
        pass  # the runner's notices already say what changed, in words

    def notice(self, notice: Notice) -> None:
        if notice.agent:
            self.mux.add_name(notice.agent)  # e.g. the managed registry, added by the plan
        marker = "⟳" if notice.kind == "watch" else None  # a reload: `hello ⟳ restarting: agent.py changed`
        self.mux.event(notice.agent, notice.text, notice.level, marker=marker)

    def flush(self) -> None:
        self.mux.flush()

    def close(self) -> None:
        self.mux.drain()
