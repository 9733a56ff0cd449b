"""Loading the project from the command line's options, shared by every command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

from meshcompose.model import Project

# Extensions that make an existing path given as an agent name mean `-f PATH`.
_FILE_SUFFIXES = (".py", ".yaml", ".yml")


def split_file_arguments(names: Sequence[str]) -> Tuple[List[str], List[str]]:
    """`up path/to/agent.py api` -> (["path/to/agent.py"], ["api"]).

    An argument is a file when it names an existing .py/.yaml/.yml file or
    contains a path separator and exists; anything else is an agent name.
    """
    files: List[str] = []
    agents: List[str] = []
    for name in names or ():
        path = Path(name)
        looks_like_file = path.suffix in _FILE_SUFFIXES or "/" in name or "\\" in name
        (files if looks_like_file and path.is_file() else agents).append(name)
    return files, agents


def load_from_args(args: argparse.Namespace) -> Project:
    """The project picked by -f/-p/--profile/--env-file. Warnings go to stderr.

    Raises ConfigError (caught and rendered by cli.main).
    """
    from meshcompose.config import loader

    warnings: List[str] = []
    try:
        return loader.load_project(
            getattr(args, "files", None) or (),
            project_name=getattr(args, "project_name", None),
            profiles=getattr(args, "profiles", None) or (),
            env_files=getattr(args, "env_files", None) or (),
            warnings=warnings,
        )
    finally:
        for warning in warnings:
            sys.stderr.write(f"warning: {warning}\n")
