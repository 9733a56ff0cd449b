"""Agent scripts named like a module their interpreter imports.

`python h2.py` puts the script's directory first on sys.path, so when the
SDK (or anything it loads) imports `h2`, it gets the script: the agent
starts a second agent inside itself, or exits 1, with nothing in its
output that says why. The interpreter probe asks each interpreter which of
its agents' script names it can import (in isolated mode, without the
current or the script's directory, so only what it really imports
answers), and caches the answer with the probe: the check costs no
interpreter start of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from meshcompose.model import Agent
from meshcompose.pyenv.resolve import ResolvedPython


def warnings(agents: Sequence[Agent], resolved: Mapping[str, ResolvedPython]) -> list[str]:
    """One warning per agent whose script shadows a module its interpreter imports."""
    out = []
    for agent in agents:
        python = resolved.get(agent.name)
        if python is None or not python.shadowed_module:
            continue
        stem = python.shadowed_module
        out.append(f"agent '{agent.name}': its script {Path(agent.target).name} is named like the module "
                   f"'{stem}' that {python.executable} imports; anything importing '{stem}' in the agent gets "
                   f"the script instead (a second agent starts inside it, or it exits 1): rename the script")
    return out
