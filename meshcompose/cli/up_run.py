"""`up` after the project is planned: environments, the lock, then supervise
in the foreground, detach a supervisor, or hand new agents to a running one."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

# Set in a detached supervisor: the descriptor of the project lock its parent took.
LOCK_FD_VAR = "MESH_COMPOSE_LOCK_FD"


def run_up(project, selected: Sequence[str], args: argparse.Namespace) -> int:
    from meshcompose.plan import launch
    from meshcompose.mesh import meshplan
    from meshcompose.control import state
    from meshcompose.errors import AlreadyRunningError

    launch.preflight([project.agents[name] for name in selected])
    mesh = meshplan.plan(project, selected, url=registry_url(project, args))
    project, selected = meshplan.with_managed_registry(project, selected, mesh)
    if meshplan.describe(mesh) and not args.detached_child:
        print(meshplan.describe(mesh), file=sys.stderr)
    if os.environ.get(LOCK_FD_VAR) and args.detached_child:
        lock = state.ProjectLock(project.directory, project.name)
        lock.adopt(int(os.environ.pop(LOCK_FD_VAR)))
        return _supervise(project, selected, launches_for(project, selected, args), args, lock, mesh)
    lock = state.ProjectLock(project.directory, project.name)
    try:
        lock.acquire()
    except AlreadyRunningError:
        if not args.names:
            raise
        from meshcompose.cli.background import start_in_running

        return start_in_running(project, selected, args)
    try:
        launches = launches_for(project, selected, args)
        if args.detach:
            from meshcompose.cli.background import detach

            return detach(project, selected, args, lock)
        return _supervise(project, selected, launches, args, lock, mesh)
    finally:
        lock.release()


def registry_url(project, args) -> str:
    from meshcompose.mesh import registry

    return registry.resolve_url(project.registry, cli_url=args.registry_url, cli_host=args.registry_host,
                                cli_port=args.registry_port, environ=os.environ)


def launches_for(project, selected, args):
    from meshcompose.plan import launch
    from meshcompose.mesh import meshplan
    from meshcompose.cli.environments import ensure_environments

    resolved = ensure_environments(project, selected, args, sys.stderr)
    mesh_env = meshplan.agent_environments(project, selected, registry_url(project, args), args.log_level)
    return launch.build_launches(project, selected, resolved, os.environ, mesh_env)


def _supervise(project, selected, launches, args, lock, mesh) -> int:
    import anyio

    from meshcompose.runtime import host
    from meshcompose.control import state
    from meshcompose.runtime.supervisor import RunOptions, Supervisor

    store = state.StateStore(project.directory)
    doc = state.new_document(project.name, project.directory, [str(f) for f in project.files])
    doc["registry_url"] = mesh.url if (mesh.needed or mesh.managed or mesh.reused) else None
    store.write(doc)
    mux, recorder, observers = _observers(project, selected, args)
    state_recorder = host.StateRecorder(store, recorder.directory)
    options = RunOptions(
        abort_on_exit=args.abort_on_exit,
        exit_code_from=args.exit_code_from,
        stop_timeout=args.timeout,
        linger=args.detached_child,
    )
    from meshcompose.runtime.events import FanOut

    flusher = host.Flusher([mux, recorder, store])
    supervisor = Supervisor(project, launches, FanOut([*observers, state_recorder, flusher]), options)
    supervisor.registry_url = mesh.url
    state_recorder.add_agents(supervisor, launches)
    try:
        return anyio.run(lambda: host.host(
            supervisor, selected, store=store, recorder=state_recorder,
            flusher=flusher, detached=args.detached_child))
    finally:
        recorder.close()
        mux.flush()


def _observers(project, selected, args):
    from meshcompose.cli.console_observer import ConsoleObserver
    from meshcompose.cli.render import color_enabled
    from meshcompose.cli.console import ConsoleMux
    from meshcompose.runtime.recorder import LogRecorder

    mux = ConsoleMux(
        sys.stdout, list(project.agents),
        color=color_enabled(sys.stdout, args.no_color),
        prefix=not args.no_log_prefix,
        timestamps=args.timestamps,
    )
    recorder = LogRecorder(project.state_dir / "logs")
    return mux, recorder, [ConsoleObserver(mux), recorder]
