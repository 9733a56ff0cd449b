"""PLACEHOLDER: replaced by the real command."""

from __future__ import annotations

import argparse

from meshcompose.errors import MeshComposeError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise MeshComposeError(f"`{args.command}` is not built yet")
