"""`mesh-compose top [AGENT...]`: each running agent's processes."""

from __future__ import annotations

import argparse
import sys

COLUMNS = ("PID", "PPID", "CPU%", "MEM", "COMMAND")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT", help="agents (default: every running agent)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.agents import top
    from meshcompose.cli.options import project_identity
    from meshcompose.safetext import terminal_safe
    from meshcompose.units import format_size

    listing = top(project_identity(args), tuple(args.names))
    if not listing:
        print("no agents running", file=sys.stderr)
    for index, agent in enumerate(listing):
        rows = [list(COLUMNS)] + [[str(p.pid), str(p.ppid), f"{p.cpu_percent:.1f}", format_size(p.rss),
                                   terminal_safe(p.command, color=False)]  # an agent may retitle itself
                                  for p in agent.processes]
        widths = [max(len(row[col]) for row in rows) for col in range(len(COLUMNS) - 1)]
        print(("\n" if index else "") + terminal_safe(agent.name, color=False))
        for row in rows:
            print("   ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip())
    return 0
