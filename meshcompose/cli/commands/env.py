"""`mesh-compose env [AGENT...] [--format json] [--install|--no-install]`.

Per Python agent: interpreter path, version, venv or system, the rule that
found it, and missing packages. Exit status 0 when every requirement is met,
4 (EXIT_ENVIRONMENT) when packages are still missing or an interpreter is
too old for `requires` (its row says so), so CI can use it as a
check. `--install` installs what is missing first (never without asking
otherwise: `env` does not prompt).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from meshcompose.cli.options import add_install_options
from meshcompose.errors import EXIT_ENVIRONMENT, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("agents", nargs="*", metavar="AGENT", help="only these agents (default: all)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import describe
    from meshcompose.app.options import EnvOptions
    from meshcompose.cli import options as cli_options

    install = cli_options.install_options(args, sys.stderr, interactive=False) if args.install else None
    result = describe.env(cli_options.load_project(args), EnvOptions(names=tuple(args.agents), install=install))
    if args.format == "json":
        sys.stdout.write(json.dumps(list(result.rows), indent=2) + "\n")
    else:
        _print_table(result.rows, args.no_color)
        if result.limits:
            print(f"resource limits here: {result.limits}")
    if result.too_old is not None:
        from meshcompose.cli.render import print_error

        print_error(result.too_old, no_color=args.no_color)
    return EXIT_ENVIRONMENT if result.missing or result.unusable else EXIT_OK


def _print_table(rows: Sequence[dict[str, Any]], no_color: bool) -> None:
    from rich.table import Table

    from meshcompose.cli.render import rich_console

    # Through a pipe each row stays on one line, however long its paths: `env | grep` finds them whole.
    console = rich_console(sys.stdout, no_color, highlight=False, width=None if sys.stdout.isatty() else 100_000)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("AGENT", "INTERPRETER", "VERSION", "KIND", "FOUND VIA", "MISSING"):
        table.add_column(column, overflow="fold")
    from rich.markup import escape

    for row in rows:
        missing = ", ".join(row["missing"]) or "-"
        version = escape(row["version"])
        if row["unusable"]:
            version += f" [red](unusable: {escape(row['unusable'])})[/]"
        table.add_row(row["agent"], row["interpreter"], version, "venv" if row["venv"] else "system",
                      row["found_via"], f"[red]{escape(missing)}[/]" if row["missing"] else escape(missing))
    console.print(table)
