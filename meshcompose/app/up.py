"""`up`: one call for the foreground run, `up -d`, and `up NAME`/`start NAME`
on a project that is already running (`start` is `up` that requires it).

The run is planned once (`plan_run`): selection, preflight, the registry
decision, interpreters and packages, every launch spec. The foreground run
supervises that plan in this process; `up -d` writes it to the state
directory and starts a detached supervisor from the file, then waits here
until the agents are up. When the project already runs, the agents it has
never run get their launch specs from `launches_for`, the one place that
builds them, with the running project's registry, and the running
supervisor starts them.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from meshcompose.app.environments import ensure_environments
from meshcompose.app.options import InstallOptions, RegistryOptions, StartOptions, UpOptions
from meshcompose.app.running import running_doc
from meshcompose.app.waiting import WaitOutcome, wait_until_up
from meshcompose.control import protocol, state
from meshcompose.control.lock import ProjectLock
from meshcompose.control.paths import plan_file, state_dir
from meshcompose.errors import AlreadyRunningError, NotRunningError, UnknownAgentError
from meshcompose.mesh import meshplan, registry
from meshcompose.model import Project
from meshcompose.plan import launch, planner, runplan
from meshcompose.plan.launch import LaunchSpec
from meshcompose.plan.runplan import RunPlan, RunSettings

SUPERVISOR_LOG = "supervisor.log"


class UpMode(str, enum.Enum):
    FOREGROUND = "foreground"  # supervised here until it ends
    DETACHED = "detached"  # a new supervisor in the background
    HANDED_OVER = "handed over"  # the running supervisor was asked to start them


@dataclass(frozen=True)
class UpResult:
    mode: UpMode
    exit_code: int
    started: tuple[str, ...] = ()  # handed over: what the running supervisor started
    outcome: WaitOutcome | None = None  # detached and handed over: how the wait ended


def up(project: Project, options: UpOptions) -> UpResult:
    """Starts the selected agents: supervised here (the default), by a
    detached supervisor (`detach`), or, when the project already runs and
    agents were named, by its supervisor. Takes the project lock for the
    first two; the third waits, like `up -d`, until the agents are up."""
    selected = select(project, options)
    lock = ProjectLock(project.directory, project.name)
    try:
        lock.acquire()
    except AlreadyRunningError:
        if not (options.names or options.require_running):
            raise
        return _hand_over(project, selected, options)
    try:
        if options.require_running:  # it stopped since the caller looked
            raise NotRunningError(project.name)
        plan = plan_run(project, selected, options)
        if options.detach:
            return _detach(plan, lock, options)
        return _foreground(plan, options)
    finally:
        lock.release()


def start(project: Project, options: StartOptions) -> UpResult:
    """`start NAME`: `up NAME` on a project that must already be running."""
    running_doc(project.directory, "start", project.name)  # not running: say so before planning anything
    return up(project, UpOptions(
        names=options.names, detach=True, require_running=True, wait_timeout=options.wait_timeout,
        registry=options.registry, install=options.install, notify=options.notify,
    ))


def select(project: Project, options: UpOptions) -> list[str]:
    if options.exit_code_from and options.exit_code_from not in project.agents:
        raise UnknownAgentError(options.exit_code_from, list(project.agents))
    planner.check(project)
    return planner.select(project, list(options.names), with_deps=options.with_deps)


def plan_run(project: Project, selected: Sequence[str], options: UpOptions) -> RunPlan:
    """Everything the supervisor needs, decided now."""
    launch.preflight([project.agents[name] for name in selected])
    url = registry_url(project, options.registry)
    mesh = meshplan.plan(project, selected, url=url)
    project, selected = meshplan.with_managed_registry(project, selected, mesh)
    if mesh.managed:
        meshplan.discard_database(project.state_dir)
    launches = launches_for(project, selected, url, options.registry, options.install)
    described = meshplan.describe(mesh)  # after any install prompt: it is about to happen now
    if described:
        options.notify(described)
    settings = RunSettings(abort_on_exit=options.abort_on_exit or options.exit_code_from is not None,
                           exit_code_from=options.exit_code_from, stop_timeout=options.stop_timeout)
    involved = mesh.needed or mesh.managed or mesh.reused
    return RunPlan(project, tuple(selected), launches, registry_url=mesh.url,
                   published_registry_url=mesh.url if involved else None, settings=settings)


def registry_url(project: Project, given: RegistryOptions, running: state.StateDoc | None = None) -> str:
    """The registry agents are told about: the command line's, else the
    running project's (agents started later join the mesh the others are in),
    else the environment's, the project file's, or the default."""
    if running is not None and running.get("registry_url") and not given.given:
        return running["registry_url"]  # type: ignore[return-value]
    return registry.resolve_url(project.registry, cli_url=given.url, cli_host=given.host, cli_port=given.port,
                                environ=os.environ)


def launches_for(project: Project, names: Sequence[str], url: str, given: RegistryOptions,
                 install: InstallOptions) -> dict[str, LaunchSpec]:
    """The launch spec of each of `names`, interpreters settled first."""
    resolved = ensure_environments(project, names, install)
    mesh_env = meshplan.agent_environments(project, names, url, given.log_level)
    return launch.build_launches(project, names, resolved, os.environ, mesh_env)


def healthchecked(project: Project, names: Sequence[str]) -> set[str]:
    return {name for name in names if project.agents[name].healthcheck is not None}


def _foreground(plan: RunPlan, options: UpOptions) -> UpResult:
    from meshcompose.runtime import session  # anyio and the supervisor: only when supervising here

    return UpResult(UpMode.FOREGROUND, session.supervise(plan, console=options.console, detached=False))


def _detach(plan: RunPlan, lock: ProjectLock, options: UpOptions) -> UpResult:
    from meshcompose.runtime import detached

    log_path = plan.project.state_dir / SUPERVISOR_LOG
    state_dir(plan.project.directory)
    child = detached.start(runplan.write(plan, plan_file(plan.project.directory)), lock, log_path)
    outcome = wait_until_up(plan.project.directory, plan.selected, healthchecked(plan.project, plan.selected),
                            options.wait_timeout, child=child, log_path=log_path)
    if not outcome.ok and outcome.supervisor_exit is None:
        _end_if_idle(plan.project.directory)
    return UpResult(UpMode.DETACHED, 0 if outcome.ok else 1, plan.selected, outcome)


def _end_if_idle(directory: Path) -> None:
    """A failed `up -d` with nothing left running leaves no supervisor behind."""
    from meshcompose.app.down import DownOptions, down
    from meshcompose.app.running import alive

    doc = state.StateStore(directory).read()
    if doc is not None and not any(alive(record) for record in doc["agents"].values()):
        down(directory, DownOptions())


def _hand_over(project: Project, selected: Sequence[str], options: UpOptions) -> UpResult:
    doc = running_doc(project.directory, "start", project.name)
    new = [name for name in selected if name not in doc["agents"]]  # it keeps the launches of the others
    launch.preflight([project.agents[name] for name in new])
    launches = launches_for(project, new, registry_url(project, options.registry, doc), options.registry,
                            options.install) if new else {}
    response = protocol.request(doc, {"op": "start", "names": list(selected),
                                      "launches": {name: spec.to_dict() for name, spec in launches.items()}})
    started = tuple(response.get("started") or ())
    outcome = wait_until_up(project.directory, selected, healthchecked(project, selected), options.wait_timeout)
    return UpResult(UpMode.HANDED_OVER, 0 if outcome.ok else 1, started, outcome)
