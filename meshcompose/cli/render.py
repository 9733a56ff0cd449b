"""Shared rendering helpers: consoles and error output."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from meshcompose.errors import MeshComposeError


def color_enabled(stream: TextIO, no_color: bool = False) -> bool:
    """NO_COLOR and --no-color win; FORCE_COLOR forces; else only on a terminal."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def print_error(error: MeshComposeError, *, no_color: bool = False, stream: TextIO = sys.stderr) -> None:
    color = color_enabled(stream, no_color)
    red, dim, reset = ("\x1b[31;1m", "\x1b[2m", "\x1b[0m") if color else ("", "", "")
    stream.write(f"{red}error:{reset} {error.message}\n")
    if error.hint:
        stream.write(f"{dim}hint:{reset} {error.hint}\n")
    stream.flush()
