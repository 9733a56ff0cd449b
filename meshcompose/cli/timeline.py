"""`graph --timeline`: the start-up timeline and its critical chain in the
terminal, as `systemd-analyze critical-chain` shows units."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.timeline import Bar, Timeline
    from meshcompose.model import Project

HEADER = ('The critical chain: what decided when the last agent was ready (* below).\n'
          'The time an agent was ready is printed after "@" (since the run began);\n'
          'the time it took from its start to ready after "+".')


def render_timeline(project: Project, names: tuple[str, ...], output: str) -> int:
    from meshcompose.app.timeline import project_timeline
    from meshcompose.errors import UsageError

    if output not in ("text", "json"):
        raise UsageError(f"graph --timeline prints text or json, not {output}")
    view = project_timeline(project, names)
    print(json.dumps(view.as_json(), indent=2) if output == "json" else timeline_text(view))
    return 0


def timeline_text(view: Timeline) -> str:
    if view.run_started is None:
        return f"{view.project}: no run recorded yet (`mesh-compose up` starts one)"
    lines = [HEADER, "", *chain_lines(view), "", *bar_lines(view)]
    return "\n".join(lines).rstrip()


def chain_lines(view: Timeline) -> list[str]:
    if not view.chain:
        return ["no agent became ready in this run"]
    lines = []
    for depth, name in enumerate(reversed(view.chain)):
        bar = view.bar(name)
        assert bar is not None and bar.ready is not None
        took = f" +{_seconds(bar.ready - bar.started)}" if bar.started is not None else ""
        lead = "" if depth == 0 else " " * (2 * (depth - 1)) + "└─"
        lines.append(f"{lead}{name} @{_seconds(bar.ready)} ({bar.ready_as}){took}")
    return lines


def bar_lines(view: Timeline) -> list[str]:
    rows: list[tuple[str, ...]] = [("AGENT", "STARTED (WAITED)", "WAITED FOR", "READY", "RESTARTS", "EXITS")]
    rows += [_bar_row(bar, bar.name in view.chain) for bar in sorted(view.bars, key=_order)]
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _order(bar: Bar) -> tuple[float, str]:
    return (bar.started if bar.started is not None else float("inf"), bar.name)


def _bar_row(bar: Bar, critical: bool) -> tuple[str, ...]:
    waited_for = ", ".join(bar.waited_for) or "-"
    if bar.decided_by and len(bar.waited_for) > 1:
        waited_for += f"; last: {bar.decided_by}"
    ready = f"{_seconds(bar.ready)} ({bar.ready_as})" if bar.ready is not None else "-"
    exits = ", ".join(f"{_seconds(when)} ({'?' if code is None else code})" for when, code in bar.exits) or "-"
    if bar.skipped is not None:
        exits = f"skipped {_seconds(bar.skipped)}"
    return (("* " if critical else "  ") + bar.name,
            _seconds(bar.started) if bar.started is not None else "-", waited_for, ready,
            str(len(bar.restarts)), exits)


def _seconds(value: float) -> str:
    return f"{value:.3f}s" if value < 10 else f"{value:.1f}s"
