"""`mesh-compose version [--format json] [--short]`."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--format", choices=("pretty", "json"), default="pretty", help="pretty (default) or json")
    parser.add_argument("--short", action="store_true", help="only the version number")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.version import version

    info = version()
    if args.short:
        print(info.version)
    elif args.format == "json":
        print(json.dumps(asdict(info)))
    else:
        print(f"mesh-compose version {info.version}\n"
              f"Python {info.python} ({info.implementation}, {info.executable})\n"
              f"Platform {info.platform}")
    return 0
