"""`mesh-compose mcp [--allow-control]`: the project as an MCP server on stdio,
for an AI assistant. Read-only unless --allow-control."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--allow-control", action="store_true",
                        help="also offer the tools that change the project: up, down, start, stop, restart")


def run(args: argparse.Namespace) -> int:
    from meshcompose.cli.options import project_selection
    from meshcompose.errors import MeshComposeError

    if sys.version_info < (3, 10):
        raise MeshComposeError("`mesh-compose mcp` needs Python 3.10 or newer (the MCP SDK does)")
    try:
        from meshcompose.assistant import server
    except ImportError as error:
        raise MeshComposeError(f"`mesh-compose mcp` needs the MCP SDK: {error}",
                               hint="install the `mcp` extra: pip install 'mesh-compose[mcp]'") from None
    selection = project_selection(args)
    if selection.files:  # a -f that names no file is said now, not at the assistant's first call
        from meshcompose.app.project import directory

        directory(selection)
    server.serve(selection, args.allow_control)
    return 0
