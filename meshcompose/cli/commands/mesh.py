"""`mesh-compose mesh [AGENT...] [--format table|json] [--all]`: what each agent offers,
what each dependency resolved to, and where that differs from the file's `depends_on`.

Names, descriptions and endpoints come from the registry, i.e. from the agents:
they are text, shown with control characters made visible.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.mesh import Dependency, MeshAgent, MeshReport


def text(value: object) -> str:
    """`value` as one harmless line: the project's terminal-safe rule, newlines shown too."""
    from meshcompose.safetext import terminal_safe

    return terminal_safe(str(value), color=False)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default), or json: one document with every fact")
    parser.add_argument("--all", action="store_true", help="also show the SDK's framework capabilities")
    parser.add_argument("names", nargs="*", metavar="AGENT", help="only these agents (default: all)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import mesh as app_mesh
    from meshcompose.cli.options import load_project, project_identity

    report = app_mesh.mesh(project_identity(args), app_mesh.MeshOptions(tuple(args.names), args.all),
                           lambda: load_project(args))
    if args.format == "json":
        sys.stdout.write(json.dumps(app_mesh.as_data(report), indent=2) + "\n")
    else:
        sys.stdout.write(render(report))
    return 0


def render(report: MeshReport) -> str:
    lines = [f"project {text(report.project)}, registry {text(report.registry_url)}"]
    for agent in report.facts.agents:
        lines.append("")
        lines.extend(_agent_lines(agent, report.framework))
    if report.facts.findings:
        lines.append("")
        lines.append("declared vs resolved:")
        lines.extend(f"  ! {text(finding.text)}" for finding in report.facts.findings)
    return "\n".join(lines) + "\n"


def _status(agent: MeshAgent) -> str:
    if agent.status == "absent":
        return "absent (not listed by the registry)"
    return f"{agent.status}, {'current process' if agent.current else 'not from its current process'}"


def _agent_lines(agent: MeshAgent, framework: bool) -> list[str]:
    lines = [f"{text(agent.name)}  ({text(agent.agent_id)})  {_status(agent)}"
             + (f"  {text(agent.endpoint)}" if agent.endpoint else "")]
    shown = [c for c in agent.capabilities if framework or not c.framework]
    if agent.status == "absent":
        return lines
    offers = ", ".join(text(c.name) + (f" {text(c.version)}" if c.version else "")
                       + (f" [{', '.join(text(tag) for tag in c.tags)}]" if c.tags else "") for c in shown)
    lines.append(f"  capabilities  {offers or '-'}")
    tools = [f"{text(c.tool)}" + (f": {text(c.description)}" if c.description else "") for c in shown if c.tool]
    lines.append(f"  tools         {tools[0] if tools else '-'}")
    lines.extend(f"                {tool}" for tool in tools[1:])
    dependencies = [_dependency(d) for d in agent.dependencies]
    lines.append(f"  dependencies  {dependencies[0] if dependencies else '-'}"
                 + (f"   ({agent.resolved}/{len(agent.dependencies)} resolved)" if dependencies else ""))
    lines.extend(f"                {line}" for line in dependencies[1:])
    declared = ", ".join(text(d.provider) + (f" ({text(d.condition)})" if d.condition else "") for d in agent.declared)
    lines.append(f"  depends_on    {declared or '-'}")
    return lines


def _dependency(dependency: Dependency) -> str:
    asked = text(dependency.capability)
    if dependency.tags:
        asked += f" [{', '.join(text(tag) for tag in dependency.tags)}]"
    if dependency.version:
        asked += f" {text(dependency.version)}"
    if not dependency.resolved:
        return f"{asked} → unresolved"
    provider = text(dependency.provider or dependency.provider_id)
    where = f" @ {text(dependency.endpoint)}" if dependency.endpoint else ""
    mark = "" if dependency.declared else "   (not in depends_on)"
    return f"{asked} → {provider} ({text(dependency.provider_id)}){where}{mark}"
