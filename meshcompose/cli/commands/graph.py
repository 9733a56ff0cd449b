"""`mesh-compose graph`: the dependency graph, with conditions on the edges.

Formats: `text` (start waves, each agent with what it waits for), `mermaid`
and `dot` (paste into docs or Graphviz), `json` (for scripts). Optional
dependencies (`required: false`) are dashed in mermaid/dot and marked in
text and json.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from meshcompose.app.describe import GraphView

FORMATS = ("text", "mermaid", "dot", "json")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--timeline", action="store_true",
                        help="the current run's start-up timeline and critical chain (text, or json with --format)")
    parser.add_argument("names", nargs="*", metavar="AGENT",
                        help="show only these agents and their dependencies (default: all)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--live", action="store_true",
                        help="a running project: declared and resolved mesh edges, each agent's state")


def run(args: argparse.Namespace) -> int:
    if args.live:
        from meshcompose.cli.commands.graphlive import run_live

        return run_live(args)
    from meshcompose.app import describe
    from meshcompose.app.options import GraphOptions
    from meshcompose.cli.options import load_project

    if args.timeline:  # the run's timeline rather than the file's graph
        from meshcompose.cli.timeline import render_timeline

        return render_timeline(load_project(args), tuple(args.names), args.format)
    view = describe.graph(load_project(args), GraphOptions(names=tuple(args.names)))
    print(RENDERERS[args.format](view), end="")
    return 0


def render_text(view: GraphView) -> str:
    count = len(view.agents)
    lines = [f"{view.project}: {count} agent{'s' * (count != 1)}, {len(view.edges)} "
             f"dependenc{'ies' if len(view.edges) != 1 else 'y'}, {len(view.waves)} start wave"
             f"{'s' * (len(view.waves) != 1)}"]
    width = max((len(name) for name in view.agents), default=0)
    for number, wave in enumerate(view.waves, 1):
        lines.append("")
        lines.append(f"wave {number}")
        for agent in wave:
            needs = ", ".join(f"{e.dependency} ({e.label})" for e in view.needs(agent))
            lines.append(f"  {agent.ljust(width)}  <- {needs}" if needs else f"  {agent}")
    return "\n".join(lines) + "\n"


def render_mermaid(view: GraphView) -> str:
    ids = {name: f"a{index}" for index, name in enumerate(view.agents)}
    lines = ["flowchart LR"]
    lines += [f'    {ids[name]}["{_mermaid_text(name)}"]' for name in view.agents]
    for edge in view.edges:
        arrow = "-->" if edge.required else "-.->"
        lines.append(f'    {ids[edge.dependency]} {arrow}|"{_mermaid_text(edge.label)}"| {ids[edge.dependent]}')
    return "\n".join(lines) + "\n"


def render_dot(view: GraphView) -> str:
    lines = [f"digraph {_dot_quote(view.project)} {{", "    rankdir=LR;", "    node [shape=box];"]
    lines += [f"    {_dot_quote(name)};" for name in view.agents]
    for edge in view.edges:
        style = "" if edge.required else ", style=dashed"
        lines.append(f"    {_dot_quote(edge.dependency)} -> {_dot_quote(edge.dependent)} "
                     f"[label={_dot_quote(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_json(view: GraphView) -> str:
    document = {
        "project": view.project,
        "agents": view.agents,
        "start_order": [list(wave) for wave in view.waves],
        "dependencies": [
            {"dependent": e.dependent, "dependency": e.dependency, "condition": e.condition, "required": e.required}
            for e in view.edges
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid has no backslash escapes inside quoted labels; it takes HTML entities.
    return text.replace('"', "#quot;")


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


RENDERERS: dict[str, Callable[[GraphView], str]] = {
    "text": render_text,
    "mermaid": render_mermaid,
    "dot": render_dot,
    "json": render_json,
}
