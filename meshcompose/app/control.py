"""`stop` and `restart`: single agents of a running project, through its
supervisor's control socket. (`start` is `up NAME` on a running project, in
`app.up`.)

`stop` needs only the project directory (fast, works with a broken project
file). `restart` waits like `up -d` for each agent's condition (healthy where
it has a healthcheck), so it loads the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Tuple

from meshcompose.app.options import RestartOptions, StopOptions
from meshcompose.app.running import alive, known_names, running_doc, stop_bound
from meshcompose.app.waiting import WaitOutcome, wait_until_up
from meshcompose.control import protocol
from meshcompose.errors import ControlError
from meshcompose.model import Project


@dataclass(frozen=True)
class StopResult:
    stopped: Tuple[str, ...]
    was_running: FrozenSet[str]  # the others were already stopped
    warnings: Tuple[str, ...] = ()  # e.g. dependents that keep running


@dataclass(frozen=True)
class RestartResult:
    restarted: Tuple[str, ...]
    outcome: WaitOutcome
    warnings: Tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome.ok else 1


def stop(directory: Path, options: StopOptions) -> StopResult:
    doc = running_doc(directory, "stop")
    names = known_names(options.names, doc["agents"]) or list(doc["agents"])
    was_running = frozenset(name for name in names if alive(doc["agents"][name]))
    response = protocol.request(doc, {"op": "stop", "names": names, "timeout": options.timeout},
                                timeout=stop_bound(doc, names, options.timeout))
    return StopResult(tuple(response.get("stopped") or names), was_running,
                      tuple(response.get("warnings") or ()))


def restart(project: Project, options: RestartOptions) -> RestartResult:
    doc = running_doc(project.directory, "restart", project.name)
    names = known_names(options.names, project.agents) or list(doc["agents"])
    never = [name for name in names if name not in doc["agents"]]
    if never:
        raise ControlError(f"not started in this run: {', '.join(never)}",
                           hint=f"start it with `mesh-compose start {' '.join(never)}`")
    response = protocol.request(doc, {"op": "restart", "names": names, "timeout": options.timeout},
                                timeout=stop_bound(doc, names, options.timeout))
    healthchecked = {name for name in names
                     if name in project.agents and project.agents[name].healthcheck is not None}
    outcome = wait_until_up(project.directory, names, healthchecked, options.wait_timeout)
    return RestartResult(tuple(response.get("started") or names), outcome, tuple(response.get("warnings") or ()))
