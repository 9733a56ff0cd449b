"""`mesh-compose schema`: print the JSON Schema of mesh-compose.yaml."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import describe

    sys.stdout.write(describe.schema())
    return 0
