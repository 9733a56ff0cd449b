"""`stop`: single agents of a running project, through its supervisor's
control socket. Needs only the project directory: fast, and it works when
the project file no longer validates."""

from __future__ import annotations

from dataclasses import dataclass

from meshcompose.app.live import alive, known_names, running_doc, stop_bound
from meshcompose.app.project import ProjectIdentity
from meshcompose.control.client import ControlClient


@dataclass(frozen=True)
class StopOptions:
    names: tuple[str, ...] = ()  # empty: every agent
    timeout: float | None = None  # instead of each agent's stop_grace_period


@dataclass(frozen=True)
class StopResult:
    stopped: tuple[str, ...]
    was_running: frozenset[str]  # the others were already stopped
    warnings: tuple[str, ...] = ()  # e.g. dependents that keep running


def stop(project: ProjectIdentity, options: StopOptions) -> StopResult:
    doc = running_doc(project.directory, project.name, "stop")
    names = known_names(options.names, doc["agents"]) or list(doc["agents"])
    was_running = frozenset(name for name in names if alive(doc["agents"][name]))
    reply = ControlClient(doc).stop(names, timeout=options.timeout,
                                    answer_within=stop_bound(doc, names, options.timeout))
    return StopResult(reply.stopped, was_running, reply.warnings)
