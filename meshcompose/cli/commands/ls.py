"""`mesh-compose ls [-a] [-q] [--format table|json]`: projects on this machine."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("-a", "--all", action="store_true",
                        help="also projects whose supervisor is gone (agents left orphaned, or ended)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print project names")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.ls import LsOptions, ls

    rows = ls(LsOptions(all=args.all))
    if args.quiet:
        for row in rows:
            print(row.Name)
    elif args.format == "json":
        print(json.dumps([asdict(row) for row in rows]))
    else:
        lines = [("NAME", "STATUS", "CONFIG FILES"), *((row.Name, row.Status, row.ConfigFiles) for row in rows)]
        widths = [max(len(line[col]) for line in lines) for col in range(2)]
        for line in lines:
            print(f"{line[0].ljust(widths[0])}   {line[1].ljust(widths[1])}   {line[2]}".rstrip())
    return 0
