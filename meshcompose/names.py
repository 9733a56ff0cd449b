"""The one rule for a project name, and how a name is shown in a message.

A project name becomes a path component (`.mesh-compose/<name>/`), so
wherever it comes from (the file's `name:`, -p, MESH_COMPOSE_PROJECT_NAME,
a name derived from a directory or a file) it is checked here before any
path is built from it: one component that cannot climb (`..`), hide
(`.x`) or reach elsewhere (`/`, NUL), short enough for any filesystem. The
schema's `name` pattern and maxLength say the same.

Stdlib only: `ps` checks the name on its fast path.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from meshcompose.errors import MeshComposeError

PROJECT_NAME_MAX = 128
PROJECT_NAME_RULE = ("use letters, digits, '_', '.' and '-', starting with a letter or digit, "
                     f"at most {PROJECT_NAME_MAX} characters")
_PROJECT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{PROJECT_NAME_MAX - 1}}}")
_SHOWN = 60  # characters of a refused name a message shows


class InvalidProjectNameError(MeshComposeError):
    """A project name that breaks the rule; no path is built from it."""

    def __init__(self, name: str, source: str = "") -> None:
        where = f" (from {source})" if source else ""
        super().__init__(f"invalid project name {shown(name)}{where}: {PROJECT_NAME_RULE}",
                         hint="set a valid one with `name:` in the project file, -p NAME, "
                              "or MESH_COMPOSE_PROJECT_NAME")
        self.name = name


def shown(text: str, limit: int = _SHOWN) -> str:
    """`text` quoted for a message: every control character escaped (repr
    escapes whatever is not printable), cut at `limit` with the length said."""
    quoted = repr(text[:limit])
    return quoted if len(text) <= limit else f"{quoted}... ({len(text)} characters)"


def valid_project_name(name: object) -> bool:
    return isinstance(name, str) and _PROJECT_NAME.fullmatch(name) is not None


def checked_project_name(name: str, source: str = "") -> str:
    """`name` if it follows the rule, else InvalidProjectNameError."""
    if not valid_project_name(name):
        raise InvalidProjectNameError(str(name), source)
    return name


# -- replicas ------------------------------------------------------------------
# An agent that runs one process keeps its own name; one that runs several
# names each `AGENT-N` (1-based), as compose names containers. Everything that
# takes an agent name on the command line or in a request takes either.

REPLICA_VARIABLE = "MESH_COMPOSE_REPLICA"  # the replica's number in its environment, 1-based


def replica_name(agent: str, number: int, count: int) -> str:
    """The name of replica `number` of `agent` when `count` of it run."""
    return agent if count == 1 else f"{agent}-{number}"


def replica_number(name: str, agent: str) -> int | None:
    """The replica number `name` gives `agent`'s process: 1 for the plain
    name, N for `AGENT-N`; None when `name` is not one of its processes."""
    if name == agent:
        return 1
    prefix = f"{agent}-"
    rest = name[len(prefix):] if name.startswith(prefix) else ""
    return int(rest) if rest.isdigit() and rest[0] != "0" else None


def members(name: str, known: Collection[str]) -> list[str]:
    """What `name` means among the `known` agent names: itself when known
    (one agent, or one replica such as `api-2`), else every replica of the
    agent it names (`api` -> `api-1`, `api-2`, in number order), else none."""
    if name in known:
        return [name]
    found = [(number, other) for other in known
             if (number := replica_number(other, name)) is not None and other != name]
    return [other for _, other in sorted(found)]


def agent_of(name: str, agents: Collection[str]) -> str | None:
    """The agent of `agents` whose process `name` is: itself, or the agent it is a replica of."""
    if name in agents:
        return name
    return next((agent for agent in agents if replica_number(name, agent) is not None), None)
