"""Agent scripts named like a module their interpreter imports.

`python h2.py` puts the script's directory first on sys.path, so when the
SDK (or anything it loads) imports `h2`, it gets the script: the agent
starts a second agent inside itself, or exits 1, with nothing in its
output that says why. Asked of each interpreter once, for all its
scripts, in isolated mode (-I: neither the current directory nor a
script's directory is on its path), so only what it really imports answers.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from meshcompose.model import Agent, RunKind

TIMEOUT = 10.0
_ASK = (
    "import importlib.util, sys\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        found = importlib.util.find_spec(name) is not None\n"
    "    except (ImportError, ValueError):\n"
    "        found = False\n"
    "    if found:\n"
    "        print(name)\n"
)


def importable(interpreter: str, names: Iterable[str]) -> set[str]:
    """Which of `names` `interpreter` can import on its own; empty when it cannot be asked."""
    wanted = sorted({name for name in names if name.isidentifier()})
    if not wanted:
        return set()
    try:
        done = subprocess.run([interpreter, "-I", "-c", _ASK, *wanted], capture_output=True, text=True,
                              timeout=TIMEOUT, cwd="/", stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return set()
    return set(done.stdout.split()) & set(wanted) if done.returncode == 0 else set()


def warnings(agents: Sequence[Agent], interpreters: Mapping[str, str]) -> list[str]:
    """One warning per script agent whose file name shadows a module its
    interpreter (`interpreters`: agent name -> executable) can import."""
    by_interpreter: dict[str, list[Agent]] = {}
    for agent in agents:
        if agent.run is RunKind.SCRIPT and agent.name in interpreters:
            by_interpreter.setdefault(interpreters[agent.name], []).append(agent)
    out = []
    for interpreter, group in by_interpreter.items():
        found = importable(interpreter, (Path(agent.target).stem for agent in group))
        for agent in group:
            stem = Path(agent.target).stem
            if stem in found:
                out.append(f"agent '{agent.name}': its script {Path(agent.target).name} is named like the module "
                           f"'{stem}' that {interpreter} imports; anything importing '{stem}' in the agent gets "
                           f"the script instead (a second agent starts inside it, or it exits 1): rename the script")
    return out
