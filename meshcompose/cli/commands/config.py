"""`mesh-compose config`: validate, then print the merged, normalized project."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format (default yaml)")
    parser.add_argument("--services", "--agents", dest="services", action="store_true",
                        help="print the agent names, one per line, in start order")
    parser.add_argument("--profiles", dest="list_profiles", action="store_true",
                        help="print the profiles the agents name, one per line")
    parser.add_argument("-q", "--quiet", action="store_true", help="only validate: print nothing, exit 0 or the errors")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import describe
    from meshcompose.app.options import ConfigOptions
    from meshcompose.cli.options import load_project

    if args.list_profiles:
        # Every agent, whatever profiles are active: compose lists them all.
        sys.stdout.write("".join(f"{name}\n" for name in describe.profiles(load_project(_all_profiles(args)))))
        return 0
    result = describe.config(load_project(args), ConfigOptions(quiet=args.quiet, services=args.services))
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if args.services:
        sys.stdout.write("".join(f"{name}\n" for name in result.start_order))
    elif result.document is None:
        pass  # -q: valid, and nothing to say
    elif args.format == "json":
        sys.stdout.write(json.dumps(result.document, indent=2) + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(result.document, sort_keys=False, default_flow_style=False,
                                        allow_unicode=True))
    return 0


def _all_profiles(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "profiles": ["*"]})
