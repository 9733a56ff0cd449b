"""`up`: one call for the foreground run, `up -d`, and `up NAME`/`start NAME`
on a project that is already running (`start` is `up` that requires it).

The run is planned once (`plan_run`): selection, preflight, the registry
decision, interpreters and packages, every launch spec. The foreground run
supervises that plan in this process; `up -d` writes it to the state
directory and starts a detached supervisor from the file, then waits here
until the agents are up. When the project already runs, `up -d`, `up NAME`
and `start NAME` reconcile with its supervisor (`_hand_over`): agents it has
never run get their definitions and launch specs (from `launches_for`, the
one place that builds them, with the running project's registry), agents
whose definition changed are recreated, the rest are left alone.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshcompose.app import detach
from meshcompose.app import watch as app_watch
from meshcompose.app.launches import launches_for, registry_url
from meshcompose.app.live import running_doc, stop_bound
from meshcompose.app.options import (
    DEFAULT_WAIT_TIMEOUT,
    WAIT_PER_WAVE,
    StartOptions,
    UpOptions,
)
from meshcompose.app.waiting import WaitOutcome, wait_until_up
from meshcompose.control import state
from meshcompose.control.client import ControlClient
from meshcompose.control.lock import ProjectLock
from meshcompose.control.paths import plan_file, state_dir
from meshcompose.errors import AlreadyRunningError, ControlError, NotRunningError, UnknownAgentError
from meshcompose.lifecycle import AgentState
from meshcompose.mesh import meshplan, tracing
from meshcompose.model import Agent, Condition, Project
from meshcompose.plan import codec, launch, planner, replicas, runplan
from meshcompose.plan.launch import LaunchSpec
from meshcompose.plan.runplan import RunPlan, RunSettings
from meshcompose.runtime import reap
from meshcompose.units import plural

SUPERVISOR_LOG = "supervisor.log"
STARTUP_WAIT_SECONDS = 10.0  # how long a supervisor that holds the lock may take to publish its state


class UpMode(str, enum.Enum):
    FOREGROUND = "foreground"  # supervised here until it ends
    DETACHED = "detached"  # a new supervisor in the background
    HANDED_OVER = "handed over"  # the running supervisor was asked to start them


class Action(str, enum.Enum):
    """What `up -d` on a running project did with each agent, as compose prints it."""

    RUNNING = "Running"  # already running as defined: left alone
    STARTED = "Started"
    RECREATED = "Recreated"  # its definition changed: stopped and started from the new one
    COMPLETED = "Completed"  # a dependency that already completed successfully: not re-run


@dataclass(frozen=True)
class UpResult:
    mode: UpMode
    exit_code: int
    started: tuple[str, ...] = ()  # handed over: what the running supervisor started
    outcome: WaitOutcome | None = None  # detached and handed over: how the wait ended
    actions: tuple[tuple[str, Action], ...] = ()  # handed over: per agent, what was done
    wait_timeout: float | None = None  # how long it waited at most (detached and handed over)


def wait_timeout_for(project: Project, selected: Sequence[str], given: float | None) -> float:
    """`given`, else WAIT_PER_WAVE seconds per start wave of the selection,
    at least DEFAULT_WAIT_TIMEOUT: a chain of 8 SDK agents in strict order
    needs more under load than 3 agents side by side."""
    if given is not None:
        return given
    waves = planner.start_order(project, selected)
    return max(DEFAULT_WAIT_TIMEOUT, WAIT_PER_WAVE * len(waves))


def up(project: Project, options: UpOptions) -> UpResult:
    """Starts the selected agents: supervised here (the default), by a
    detached supervisor (`detach`), or, when the project already runs and
    agents were named, by its supervisor. Takes the project lock for the
    first two; the third waits, like `up -d`, until the agents are up."""
    project, options = with_replicas(project, options)
    selected = select(project, options)
    lock = ProjectLock(project.directory, project.name)
    try:
        lock.acquire()
    except AlreadyRunningError:
        if not (options.names or options.require_running or options.detach):
            raise  # a foreground `up` of a running project: say so
        return _hand_over(project, selected, options)
    try:
        if options.require_running:  # it stopped since the caller looked
            raise NotRunningError(project.name)
        _stop_leftovers(project, options)
        plan = plan_run(project, selected, options)
        _commit(plan)
        if options.detach:
            return _detach(plan, lock, options)
        return _foreground(plan, options)
    finally:
        lock.release()


def _stop_leftovers(project: Project, options: UpOptions) -> None:
    """What the previous supervisor left running when it was killed is
    stopped first: the new run's state file would forget it for good."""
    left = reap.reap_before_start(project.directory, project.name)
    if left:
        names = ", ".join(outcome.name for outcome in left)
        options.notify(f"stopped {plural(len(left), 'agent')} left running by a supervisor that was killed: {names}")


def _commit(plan: RunPlan) -> None:
    """The run is decided, every prompt answered: from here on it starts, so
    what it replaces goes now. A managed registry starts from an empty
    database (see meshplan.discard_database)."""
    if meshplan.REGISTRY_AGENT in plan.launches:
        meshplan.discard_database(plan.project.state_dir)


def watch(project: Project, options: UpOptions) -> UpResult:
    """`mesh-compose watch`: `up --watch` in the foreground, as compose's
    `watch` starts what is not running and then watches."""
    try:
        running_doc(project.directory, project.name, "watch")
    except NotRunningError:
        return up(project, dataclasses.replace(options, watch=True, detach=False))
    raise ControlError(f"project '{project.name}' is already running without watching",
                       hint="stop it with `mesh-compose down`, then `mesh-compose watch` (or `up -d --watch`)")


def start(project: Project, options: StartOptions) -> UpResult:
    """`start NAME`: `up NAME` on a project that must already be running."""
    running_doc(project.directory, project.name, "start")  # not running: say so before planning anything
    return up(project, UpOptions(
        names=options.names, detach=True, require_running=True, wait_timeout=options.wait_timeout,
        registry=options.registry, install=options.install, notify=options.notify,
    ))


def with_replicas(project: Project, options: UpOptions) -> tuple[Project, UpOptions]:
    """The project with one agent per process (`plan.replicas`), and the
    options' agent names in its terms: an agent named is all its replicas."""
    expanded = replicas.expand(project, options.scale)
    if expanded is project:
        return project, options
    names = tuple(replicas.resolve(project, expanded, options.names))
    exit_code_from = _one_process(project, expanded, options.exit_code_from, "--exit-code-from")
    # `run AGENT` waits for its dependencies, the same for every replica of it: the first one's are it.
    dependencies_of = options.dependencies_of
    if dependencies_of is not None and dependencies_of not in expanded.agents:
        dependencies_of = replicas.resolve(project, expanded, [dependencies_of])[0]
    return expanded, dataclasses.replace(options, names=names, exit_code_from=exit_code_from,
                                         dependencies_of=dependencies_of)


def _one_process(project: Project, expanded: Project, name: str | None, option: str) -> str | None:
    if name is None or name in expanded.agents:
        return name
    found = replicas.resolve(project, expanded, [name])
    if len(found) > 1:
        raise replicas.ScaleError(f"{option} {name}: '{name}' runs {len(found)} replicas; name one, "
                                  f"such as {found[0]}")
    return found[0]


def select(project: Project, options: UpOptions) -> list[str]:
    if options.exit_code_from and options.exit_code_from not in project.agents:
        raise UnknownAgentError(options.exit_code_from, list(project.agents))
    planner.check(project)
    if options.dependencies_of is not None:
        return [name for name in planner.select(project, [options.dependencies_of], with_deps=True)
                if name != options.dependencies_of]
    return planner.select(project, list(options.names), with_deps=options.with_deps)


def plan_run(project: Project, selected: Sequence[str], options: UpOptions) -> RunPlan:
    """Everything the supervisor needs, decided now."""
    launch.preflight([project.agents[name] for name in selected])
    url = registry_url(project, options.registry)
    decided = meshplan.decide(project, selected, url=url)
    traced = tracing.plan(project.tracing)
    project, chosen = tracing.with_managed_redis(decided.project, list(decided.selected), traced)
    launches = launches_for(project, chosen, url, options.registry, options.install, traced)
    for described in (tracing.describe(traced), decided.describe()):  # after any install prompt
        if described:
            options.notify(described)
    settings = RunSettings(abort_on_exit=options.abort_on_exit or options.exit_code_from is not None,
                           exit_code_from=options.exit_code_from, stop_timeout=options.stop_timeout,
                           watch=app_watch.settings(options))
    return RunPlan(project, tuple(chosen), launches, registry_url=url,
                   published_registry_url=decided.published_url, settings=settings, tracing_url=traced.url)


def healthchecked(project: Project, names: Sequence[str]) -> set[str]:
    """Those of `names` (agents or replicas of `project`'s agents) that have a healthcheck."""
    return {name for name in names if (agent := replicas.definition(project, name)) is not None
            and agent.healthcheck is not None}


def awaited(project: Project, names: Sequence[str], options: UpOptions) -> tuple[set[str], set[str]]:
    """What the wait after starting `names` waits for: those to be healthy,
    and those to complete. An agent is up once running (healthy, if it has a
    healthcheck); for `run AGENT`, its own `depends_on` conditions decide."""
    healthy, completing = healthchecked(project, names), set()
    if options.dependencies_of is not None:
        for dependency in project.agents[options.dependencies_of].depends_on:
            if dependency.condition is Condition.HEALTHY:
                healthy.add(dependency.name)
            elif dependency.condition is Condition.COMPLETED_SUCCESSFULLY:
                completing.add(dependency.name)
    return healthy, completing


def _foreground(plan: RunPlan, options: UpOptions) -> UpResult:
    from meshcompose.runtime import host  # anyio and the supervisor: only when supervising here

    rebuild = app_watch.rebuilder(plan, options.install) if options.watch else None
    return UpResult(UpMode.FOREGROUND, host.supervise(plan, console=options.console, detached=False,
                                                         rebuild=rebuild))


def _detach(plan: RunPlan, lock: ProjectLock, options: UpOptions) -> UpResult:
    log_path = plan.project.state_dir / SUPERVISOR_LOG
    plan_path = write_plan(plan)
    child = options.standby.hand(plan_path, lock, log_path) if options.standby is not None else None
    if child is None:
        child = detach.start(plan_path, lock, log_path)
    timeout = wait_timeout_for(plan.project, plan.selected, options.wait_timeout)
    healthy, completing = awaited(plan.project, plan.selected, options)
    outcome = wait_until_up(plan.project.directory, plan.project.name, plan.selected, healthy, timeout,
                            child=child, log_path=log_path, completing=completing)
    if not outcome.ok and outcome.supervisor_exit is None:
        _end_if_idle(plan.project)
    return UpResult(UpMode.DETACHED, 0 if outcome.ok else 1, plan.selected, outcome, wait_timeout=timeout)


def write_plan(plan: RunPlan) -> Path:
    """`.mesh-compose/<project>/run-plan.json`, what the detached supervisor starts from."""
    state_dir(plan.project.directory, plan.project.name)
    return runplan.write(plan, plan_file(plan.project.directory, plan.project.name))


def _end_if_idle(project: Project) -> None:
    """A failed `up -d` with nothing left running leaves no supervisor behind."""
    from meshcompose.app.down import DownOptions, down
    from meshcompose.app.live import alive
    from meshcompose.app.project import ProjectIdentity

    doc = state.StateStore(project.directory, project.name).read()
    if doc is not None and not any(alive(record) for record in doc["agents"].values()):
        down(ProjectIdentity(project.directory, project.name), DownOptions())


def _hand_over(project: Project, selected: Sequence[str], options: UpOptions) -> UpResult:
    """`up -d`, `up NAME`, `start NAME` on a running project: reconcile as
    compose does. Agents it never ran start; agents whose definition changed
    are recreated; running ones are left alone; a dependency that already
    completed successfully is not re-run unless it was named (`kept_done`)."""
    doc = _published_doc(project)
    control = ControlClient(doc)
    running = control.definitions()
    new = [name for name in selected if name not in running]
    changed = [name for name in selected if name in running and not same_definition(project, name, running[name])]
    done = kept_done(doc, [name for name in selected if name not in changed], options.names)
    launch.preflight([project.agents[name] for name in [*new, *changed]])
    launches = launches_for(project, [*new, *changed], registry_url(project, options.registry, doc),
                            options.registry, options.install,
                            tracing.published(doc.get("tracing_url"))) if new or changed else {}
    if changed:
        control.recreate(_agents(project, changed), _launches(launches, changed),
                         answer_within=stop_bound(doc, changed, options.stop_timeout))
    to_start = [name for name in selected if name not in changed and name not in done]
    started: tuple[str, ...] = ()
    if to_start:  # an empty `start` request means every agent
        started = control.start(to_start, agents=_agents(project, new), launches=_launches(launches, new))
    timeout = wait_timeout_for(project, selected, options.wait_timeout)
    healthy, completing = awaited(project, selected, options)
    outcome = wait_until_up(project.directory, project.name, selected, healthy, timeout, completing=completing)
    actions = tuple((name, Action.RECREATED if name in changed else Action.STARTED if name in started
                     else Action.COMPLETED if name in done else Action.RUNNING) for name in selected)
    return UpResult(UpMode.HANDED_OVER, 0 if outcome.ok else 1, started, outcome, actions, wait_timeout=timeout)


def _published_doc(project: Project) -> state.StateDoc:
    """The running project's state; a supervisor that holds the lock but has
    not yet published itself (an `up -d` racing this one) is waited for."""
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        try:
            return running_doc(project.directory, project.name, "start")
        except NotRunningError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _agents(project: Project, names: Sequence[str]) -> dict[str, Agent]:
    return {name: project.agents[name] for name in names}


def _launches(launches: Mapping[str, LaunchSpec], names: Sequence[str]) -> dict[str, LaunchSpec]:
    return {name: launches[name] for name in names}


def same_definition(project: Project, name: str, running: Mapping[str, Any]) -> bool:
    """Whether the file's definition of `name` is the one the supervisor runs.
    The managed registry (an agent the file does not name, that every agent
    was made to depend on) is left out of the comparison."""
    return _comparable(codec.encode(project.agents[name]), project) == _comparable(dict(running), project)


def _comparable(encoded: dict[str, Any], project: Project) -> dict[str, Any]:
    encoded.pop("external", None)  # where values came from is not what the agent is
    encoded["depends_on"] = [dep for dep in encoded.get("depends_on") or () if dep.get("name") in project.agents]
    return encoded


def kept_done(doc: state.StateDoc, names: Sequence[str], named: Sequence[str]) -> list[str]:
    """The one rule for `up`, `start` and `run` on a running project: an agent
    that completed successfully is not re-run unless the user named it (a
    dependency brought up along the way is not named)."""
    return [name for name in names if name not in named and completed(doc["agents"].get(name))]


def completed(record: state.AgentRecord | None) -> bool:
    """Exited 0 and over: a one-shot whose work is done."""
    return record is not None and record.get("status") == AgentState.EXITED.value and record.get("exit_code") == 0
