"""`version`: what is running, for bug reports."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from meshcompose import __version__


@dataclass(frozen=True)
class VersionInfo:
    version: str
    python: str
    implementation: str
    platform: str
    executable: str


def version() -> VersionInfo:
    return VersionInfo(version=__version__, python=platform.python_version(),
                       implementation=platform.python_implementation(), platform=platform.platform(),
                       executable=sys.executable)
