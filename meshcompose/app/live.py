"""What every command that talks to a running supervisor needs: its state
document (or a NotRunningError that fits), name checks, and how long a stop
may take. Light: `stop` and `down` use it without loading the project."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from meshcompose.control import state
from meshcompose.errors import NotRunningError, UnknownAgentError
from meshcompose.names import members
from meshcompose.proc.identity import process_alive

# Per agent, on top of its grace period: the supervisor's own kill wait.
KILL_ALLOWANCE_SECONDS = 6.0
MARGIN_SECONDS = 10.0
DEFAULT_GRACE = 10.0  # model.Agent.stop_grace_period's default, for records that lack one


def running_doc(directory: Path, project: str, verb: str) -> state.StateDoc:
    """The state document of a project whose supervisor is alive, else
    NotRunningError with a hint that fits what is known."""
    doc = state.StateStore(directory, project).read()
    if doc is not None and state.supervisor_alive(doc):
        return doc
    name = project
    if doc and any(alive(record) for record in doc["agents"].values()):
        hint = "its supervisor is gone but agents still run; `mesh-compose down` stops them"
    elif verb == "stop":
        hint = "nothing to stop; `mesh-compose ps -a` shows how the last run ended"
    else:
        hint = "start it with `mesh-compose up -d`"
    raise NotRunningError(name, hint=hint)


def alive(record: state.AgentRecord) -> bool:
    return process_alive(record.get("pid"), record.get("create_time"))


def known_names(names: Sequence[str], known: Iterable[str]) -> list[str]:
    """`names` without repeats, after checking each is known (with a
    suggestion if not); an agent that runs replicas stands for all of them."""
    known = list(known)
    found: list[str] = []
    for name in names:
        chosen = members(name, known)
        if not chosen:
            raise UnknownAgentError(name, known)
        found.extend(chosen)
    return list(dict.fromkeys(found))


def stop_bound(doc: state.StateDoc, names: Sequence[str], timeout: float | None) -> float:
    """How long stopping `names` may take: graces one after another (a chain
    of dependents stops in order), the kill waits, and a margin."""
    total = MARGIN_SECONDS
    for name in names:
        record = doc["agents"].get(name)
        grace = timeout if timeout is not None else (record["stop_grace"] if record else None)
        total += (DEFAULT_GRACE if grace is None else grace) + KILL_ALLOWANCE_SECONDS
    return total
