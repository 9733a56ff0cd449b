"""`mesh-compose graph`: the dependency graph, with conditions on the edges.

Formats: `text` (start waves, each agent with what it waits for), `mermaid`
and `dot` (paste into docs or Graphviz), `json` (for scripts). Optional
dependencies (`required: false`) are dashed in mermaid/dot and marked in
text and json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

FORMATS = ("text", "mermaid", "dot", "json")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT",
                        help="show only these agents and their dependencies (default: all)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.plan import planner
    from meshcompose.cli.project import load_from_args

    project = load_from_args(args)
    planner.check(project)
    selected = planner.select(project, args.names)
    graph = planner.build_graph(project).subgraph(selected)
    waves = planner.start_order(project, selected)
    # Edges in the order the file lists them, so the output reads like the file.
    edges = [
        Edge(dep.name, name, dep.condition.value, dep.required)
        for wave in waves for name in wave
        for dep in project.agents[name].depends_on if graph.has_edge(dep.name, name)
    ]
    print(RENDERERS[args.format](GraphView(project.name, waves, edges)), end="")
    return 0


@dataclass(frozen=True)
class Edge:
    dependency: str
    dependent: str
    condition: str
    required: bool

    @property
    def label(self) -> str:
        return self.condition if self.required else f"{self.condition}, required: false"


class GraphView:
    """What every renderer needs: agents in start waves and labelled edges (dependents in start order)."""

    def __init__(self, project: str, waves: List[List[str]], edges: Sequence[Edge]) -> None:
        self.project, self.waves = project, waves
        self.agents = [name for wave in waves for name in wave]
        self.edges = list(edges)

    def needs(self, agent: str) -> List[Edge]:
        return [edge for edge in self.edges if edge.dependent == agent]


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
        "start_order": view.waves,
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


RENDERERS: Dict[str, Callable[[GraphView], str]] = {
    "text": render_text,
    "mermaid": render_mermaid,
    "dot": render_dot,
    "json": render_json,
}
