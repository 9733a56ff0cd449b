"""`mesh-compose dashboard [--port N] [--open]`: the running project, live, in
a browser. Serves on 127.0.0.1 and prints the URL with its token, as Jupyter
does; the token is in no log. Needs the `dashboard` extra (starlette, uvicorn)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.dashboard.server import Served

URL_PREFIX = "dashboard: "  # `up --dashboard` reads the line that starts with it


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--port", type=int, default=0, metavar="N",
                        help="listen on 127.0.0.1:N (default: any free port)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument("--exit-with-run", action="store_true", help=argparse.SUPPRESS)  # up --dashboard


def run(args: argparse.Namespace) -> int:
    from meshcompose.errors import UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected a port number, 0-65535 (0: any free port)")
    server = _server_module()
    source = open_source(args)

    def ready(served: Served) -> None:
        print(f"{URL_PREFIX}{served.url}", flush=True)
        if not args.exit_with_run:
            print("serving the project's dashboard on loopback; Ctrl+C stops it", file=sys.stderr, flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(served.url)

    server.serve(source, args.port, on_ready=ready, exit_with_run=args.exit_with_run)
    return 0


def open_source(args: argparse.Namespace):
    """The running project, and its file if it loads (start and restart need
    it); if it does not, the dashboard still shows and stops what runs."""
    from meshcompose.app.dashboard import DashboardSource
    from meshcompose.cli.options import load_project, project_identity
    from meshcompose.errors import MeshComposeError

    identity = project_identity(args)
    try:
        project = load_project(args)
    except MeshComposeError as error:
        print(f"warning: {error}; the dashboard cannot start or restart agents", file=sys.stderr)
        project = None
    return DashboardSource.open(identity, project)


def _server_module():
    from meshcompose.errors import MeshComposeError

    try:
        from meshcompose.dashboard import server
    except ImportError as error:
        raise MeshComposeError(f"the dashboard needs {error.name or 'starlette and uvicorn'}",
                               hint="pip install 'mesh-compose[dashboard]'") from None
    return server
