"""`mesh-compose kill [-s SIGNAL] [AGENT...]`: signal agents' process groups.

The supervisor was not asked to stop them: their restart policy applies."""

from __future__ import annotations

import argparse
import sys

from meshcompose.cli.values import signal_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("-s", "--signal", default="SIGKILL", type=signal_argument, metavar="SIGNAL",
                        help="signal to send: a name (SIGTERM, HUP) or a number (default SIGKILL)")
    parser.add_argument("names", nargs="*", metavar="AGENT", help="agents (default: every running agent)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.agents import KillOptions, kill
    from meshcompose.cli.options import project_identity
    from meshcompose.units import plural

    result = kill(project_identity(args), KillOptions(names=tuple(args.names), signal=args.signal))
    for name in result.signalled:
        print(f"{name}: sent {result.signal}")
    if result.not_running and args.names:
        print(f"not running: {', '.join(result.not_running)}", file=sys.stderr)
    if not result.signalled:
        print(f"no running agent to signal ({plural(len(result.not_running), 'agent')} not running)",
              file=sys.stderr)
        return 1
    return 0
