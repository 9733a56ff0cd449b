"""`restart`: stop and start agents of a running project through its
supervisor, then wait like `up -d` for each agent's condition (healthy where
it has a healthcheck), which is why it loads the project."""

from __future__ import annotations

from dataclasses import dataclass

from meshcompose.app.live import known_names, running_doc, stop_bound
from meshcompose.app.options import DEFAULT_WAIT_TIMEOUT
from meshcompose.app.up import healthchecked
from meshcompose.app.waiting import WaitOutcome, wait_until_up
from meshcompose.control.client import ControlClient
from meshcompose.errors import ControlError
from meshcompose.model import Project
from meshcompose.names import members


@dataclass(frozen=True)
class RestartOptions:
    names: tuple[str, ...] = ()  # empty: every agent of the run
    timeout: float | None = None  # stop grace, instead of each agent's stop_grace_period
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT


@dataclass(frozen=True)
class RestartResult:
    restarted: tuple[str, ...]
    outcome: WaitOutcome
    warnings: tuple[str, ...] = ()


def restart(project: Project, options: RestartOptions) -> RestartResult:
    doc = running_doc(project.directory, project.name, "restart")
    running = list(doc["agents"])
    # A replica is known by the run; an agent of the file it never started, by the file (said below).
    unstarted = [name for name in project.agents if not members(name, running)]
    names = known_names(options.names, [*running, *unstarted]) or running
    never = [name for name in names if name not in doc["agents"]]
    if never:
        raise ControlError(f"not started in this run: {', '.join(never)}",
                           hint=f"start it with `mesh-compose start {' '.join(never)}`")
    reply = ControlClient(doc).restart(names, timeout=options.timeout,
                                       answer_within=stop_bound(doc, list(doc["agents"]), options.timeout))
    restarted = list(dict.fromkeys([*names, *reply.restarted_with]))  # restart: true dependents
    outcome = wait_until_up(project.directory, project.name, restarted, healthchecked(project, restarted),
                            options.wait_timeout)
    return RestartResult(tuple(restarted), outcome, reply.warnings)

