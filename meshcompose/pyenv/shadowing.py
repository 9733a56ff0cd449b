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
    """One warning per script that shadows a module its interpreter imports,
    naming every agent that runs it (the replicas of one agent share theirs)."""
    sharing: dict[tuple[str, str, str], list[str]] = {}
    for agent in agents:
        python = resolved.get(agent.name)
        if python is not None and python.shadowed_module:
            key = (agent.target, python.executable, python.shadowed_module)
            sharing.setdefault(key, []).append(agent.name)
    out = []
    for (target, executable, stem), names in sharing.items():
        who = ("agent " if len(names) == 1 else "agents ") + ", ".join(f"'{name}'" for name in names)
        out.append(f"{who}: its script {Path(target).name} is named like the module '{stem}' that "
                   f"{executable} imports; anything importing '{stem}' in the agent gets the script instead "
                   f"(a second agent starts inside it, or it exits 1): rename the script")
    return out
