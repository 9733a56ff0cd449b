"""`mesh-compose graph --live`: the declared `depends_on` edges and the edges the
registry resolved, told apart, with each agent's state, for a running project.

Declared edges are solid, resolved ones dashed (mermaid, dot); an edge both
declared and resolved appears once of each kind. Names come from the
registry too: they are shown as text.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.mesh import LiveGraph


def run_live(args: argparse.Namespace) -> int:
    from meshcompose.app.mesh import live_graph
    from meshcompose.cli.options import load_project, project_identity

    graph = live_graph(project_identity(args), lambda: load_project(args))
    print(RENDERERS[args.format](graph), end="")
    return 0


def render_text(graph: LiveGraph) -> str:
    from meshcompose.cli.commands.mesh import text

    width = max((len(name) for name in graph.states), default=0)
    lines = [f"{text(graph.project)} (live): {len(graph.states)} agents, {len(graph.declared)} declared, "
             f"{len(graph.resolved)} resolved edges", ""]
    lines += [f"  {text(name).ljust(width)}  {text(word)}" for name, word in graph.states.items()]
    lines += ["", "declared (depends_on), provider -> dependent:"]
    lines += [f"  {text(e.provider)} -> {text(e.dependent)}  ({text(e.label)})" for e in graph.declared] or ["  -"]
    lines += ["", "resolved (mesh), provider - - > dependent:"]
    lines += [f"  {text(e.provider)} - - > {text(e.dependent)}  {text(e.label)}"
              + ("" if e.declared else "   (not declared)") for e in graph.resolved] or ["  -"]
    return "\n".join(lines) + "\n"


def render_mermaid(graph: LiveGraph) -> str:
    names = list(graph.states) + sorted({e.provider for e in graph.resolved} - set(graph.states))
    ids = {name: f"a{index}" for index, name in enumerate(names)}
    lines = ["flowchart LR"]
    lines += [f'    {ids[name]}["{_mermaid(name)}<br/>{_mermaid(graph.states.get(name, "outside the project"))}"]'
              for name in names]
    lines += [f'    {ids[e.provider]} -->|"{_mermaid(e.label)}"| {ids[e.dependent]}'
              for e in graph.declared if e.provider in ids]
    lines += [f'    {ids[e.provider]} -.->|"{_mermaid(e.label)}"| {ids[e.dependent]}' for e in graph.resolved]
    return "\n".join(lines) + "\n"


def render_dot(graph: LiveGraph) -> str:
    lines = [f"digraph {_dot(graph.project)} {{", "    rankdir=LR;", "    node [shape=box];"]
    lines += [f"    {_dot(name)} [label={_dot(name + chr(10) + word)}];" for name, word in graph.states.items()]
    lines += [f"    {_dot(e.provider)} -> {_dot(e.dependent)} [label={_dot(e.label)}];" for e in graph.declared]
    lines += [f"    {_dot(e.provider)} -> {_dot(e.dependent)} [label={_dot(e.label)}, style=dashed, color=blue];"
              for e in graph.resolved]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_json(graph: LiveGraph) -> str:
    def edges(kind: str, found: tuple) -> list[dict]:
        return [{"dependent": e.dependent, "provider": e.provider, "kind": kind,
                 ("condition" if kind == "declared" else "capabilities"): e.label,
                 **({} if kind == "declared" else {"declared": e.declared})} for e in found]

    document = {"project": graph.project, "agents": [{"name": n, "state": s} for n, s in graph.states.items()],
                "edges": edges("declared", graph.declared) + edges("resolved", graph.resolved)}
    return json.dumps(document, indent=2) + "\n"


def _mermaid(value: str) -> str:
    from meshcompose.cli.commands.mesh import text

    return text(value).replace('"', "#quot;")


def _dot(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


RENDERERS = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot, "json": render_json}
