"""`mesh-compose wait AGENT...`: block until the agents end, print their
exit codes; the exit code is the first agent's (compose's rule)."""

from __future__ import annotations

import argparse

from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="+", metavar="AGENT", help="agents to wait for")
    parser.add_argument("--timeout", type=duration_argument, metavar="SECONDS",
                        help="give up after this long (exit 1); default: wait as long as it takes")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.agents import WaitOptions, wait
    from meshcompose.cli.options import project_identity

    result = wait(project_identity(args), WaitOptions(names=tuple(args.names), timeout=args.timeout))
    for name, code in result.exit_codes:
        shown = "-" if code is None else str(code)
        print(f"{name} {shown}" if len(result.exit_codes) > 1 else shown)
    if result.timed_out:
        import sys

        print(f"timed out after {args.timeout:g}s: not every agent has ended", file=sys.stderr)
    return result.exit_code
