"""`mesh-compose stop|start|restart [NAME...]`: act on single agents of a
running project through its supervisor's control socket.

`stop` needs only the state file (fast, works with a broken project file);
`start` and `restart` load the project, because they wait like `up -d` for
each agent's condition (healthy where it has a healthcheck), and `start`
brings up missing dependencies first and hands the supervisor launches for
agents it has never run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

# Per agent, on top of its grace period: the supervisor's own kill wait.
KILL_ALLOWANCE_SECONDS = 6.0
DEFAULT_GRACE = 10.0


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT", help=f"agents to {name} (default: all)")
    if name in ("stop", "restart"):
        parser.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                            help="stop grace period, instead of each agent's stop_grace_period")
    if name in ("start", "restart"):
        parser.add_argument("--wait-timeout", type=float, default=60.0, metavar="SECONDS",
                            help="how long to wait for the agents to be up (default 60)")
    if name == "start":
        from meshcompose.cli.cmd_up import add_registry_options
        from meshcompose.cli.environments import add_install_options

        add_registry_options(parser)
        add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    return {"stop": run_stop, "start": run_start, "restart": run_restart}[args.command](args)


# -- stop -------------------------------------------------------------------------


def run_stop(args: argparse.Namespace) -> int:
    from meshcompose.control import protocol
    from meshcompose.config import locate

    doc = running_doc(locate.project_dir(getattr(args, "files", None) or []), "stop")
    names = known_names(args.names, list(doc["agents"])) or list(doc["agents"])
    was_alive = {name for name in names if _alive(doc["agents"][name])}
    response = protocol.request(doc, {"op": "stop", "names": names, "timeout": args.timeout},
                               timeout=stop_bound(doc, names, args.timeout))
    print_warnings(response)
    stopped = response.get("stopped") or names
    width = max(map(len, stopped), default=0)
    for name in stopped:
        print(f" ✔ {name.ljust(width)}  {'stopped' if name in was_alive else 'was not running'}")
    return 0


# -- start ------------------------------------------------------------------------


def run_start(args: argparse.Namespace) -> int:
    from meshcompose.control import protocol
    from meshcompose.plan import planner
    from meshcompose.cli.background import wait_until_up
    from meshcompose.cli.project import load_from_args

    project = load_from_args(args)
    doc = running_doc(project.directory, "start", project.name)
    if not args.registry_url:
        args.registry_url = doc.get("registry_url")  # new agents join the mesh the others are in
    planner.check(project)
    selected = planner.select(project, args.names)
    launches = _new_launches(project, [name for name in selected if name not in doc["agents"]], args)
    response = protocol.request(doc, {"op": "start", "names": selected, "launches": launches})
    started = response.get("started") or []
    print(f"starting: {', '.join(started)}" if started else "already running: nothing to start")
    return wait_until_up(project, selected, args.wait_timeout)


def _new_launches(project, names: Sequence[str], args: argparse.Namespace) -> dict:
    """Launches for agents the supervisor has never run (it keeps the others')."""
    if not names:
        return {}
    from meshcompose.cli.up_run import launches_for

    return {name: spec.to_dict() for name, spec in launches_for(project, list(names), args).items()}


# -- restart ----------------------------------------------------------------------


def run_restart(args: argparse.Namespace) -> int:
    from meshcompose.control import protocol
    from meshcompose.cli.background import wait_until_up
    from meshcompose.cli.project import load_from_args
    from meshcompose.errors import ControlError

    project = load_from_args(args)
    doc = running_doc(project.directory, "restart", project.name)
    names = known_names(args.names, list(project.agents)) or list(doc["agents"])
    never = [name for name in names if name not in doc["agents"]]
    if never:
        raise ControlError(f"not started in this run: {', '.join(never)}",
                           hint=f"start it with `mesh-compose start {' '.join(never)}`")
    response = protocol.request(doc, {"op": "restart", "names": names, "timeout": args.timeout},
                               timeout=stop_bound(doc, names, args.timeout))
    print_warnings(response)
    print(f"restarting: {', '.join(response.get('started') or names)}")
    return wait_until_up(project, names, args.wait_timeout)


# -- shared -------------------------------------------------------------------------


def running_doc(directory: Path, verb: str, project: Optional[str] = None):
    """The state document of a project whose supervisor is alive, else
    NotRunningError with a hint that fits what is known."""
    from meshcompose.control import state
    from meshcompose.errors import NotRunningError

    doc = state.StateStore(directory).read()
    if state.supervisor_alive(doc):
        return doc
    name = doc["project"] if doc else (project or directory.name)
    if doc and any(_alive(record) for record in doc["agents"].values()):
        hint = "its supervisor is gone but agents still run; `mesh-compose down` stops them"
    elif verb == "stop":
        hint = "nothing to stop; `mesh-compose ps -a` shows how the last run ended"
    else:
        hint = "start it with `mesh-compose up -d`"
    raise NotRunningError(name, hint=hint)


def known_names(names: Sequence[str], known: List[str]) -> List[str]:
    """`names` as given, after checking each is known (with a suggestion if not)."""
    from meshcompose.errors import UnknownAgentError

    for name in names:
        if name not in known:
            raise UnknownAgentError(name, known)
    return list(dict.fromkeys(names))


def stop_bound(doc, names: Sequence[str], timeout: Optional[float]) -> float:
    """How long a stop request may take: graces one after another (a chain of
    dependents stops in order), the kill waits, and a margin."""
    total = 10.0
    for name in names:
        record = doc["agents"].get(name) or {}
        grace = timeout if timeout is not None else record.get("stop_grace")
        total += (DEFAULT_GRACE if grace is None else grace) + KILL_ALLOWANCE_SECONDS
    return total


def print_warnings(response: dict) -> None:
    for warning in response.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)


def _alive(record) -> bool:
    from meshcompose.control import state

    return state.process_alive(record.get("pid"), record.get("create_time"))
