"""`mesh-compose down [-t SECONDS]`: stop every agent, newest dependents
first, and end the supervisor; return only when every process is gone.

With a live supervisor, it is asked (over the control socket) and `down`
waits until it and every recorded agent process have exited. With a dead
one (killed by SIGKILL), `down` stops the agents itself from the state file
(`meshcompose.proc.reap`). Like `ps`, it only needs the project directory, not
the configuration, so it works when the project file no longer validates.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

POLL_SECONDS = 0.05
# How long a supervisor may still be starting (lock taken, socket not yet
# served) before `down` gives up waiting for it.
STARTUP_WAIT_SECONDS = 10.0
# Per agent, on top of its grace period: the supervisor's own kill wait.
KILL_ALLOWANCE_SECONDS = 6.0


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                        help="stop grace period for every agent, instead of each one's stop_grace_period")


def run(args: argparse.Namespace) -> int:
    from meshcompose.config import locate
    from meshcompose.control import state

    directory = locate.project_dir(getattr(args, "files", None) or [])
    store = state.StateStore(directory)
    if store.read() is None:
        print("nothing to stop: the project has not run here")
        return 0
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        doc = store.read()
        if state.supervisor_alive(doc):
            return _down_via_supervisor(directory, doc, args.timeout)
        from meshcompose.errors import AlreadyRunningError

        try:
            return _reap_orphans(directory, args.timeout)
        except AlreadyRunningError:
            if time.monotonic() > deadline:
                raise  # someone holds the lock but never published a supervisor
            time.sleep(POLL_SECONDS)  # a supervisor is starting: ask it once it serves


def _down_via_supervisor(directory: Path, doc, timeout: Optional[float]) -> int:
    from meshcompose.control import protocol
    from meshcompose.proc import reap
    from meshcompose.control import state
    from meshcompose.errors import ControlError, NotRunningError

    active = _alive_agents(doc)
    supervisor = doc["supervisor"]
    try:
        protocol.request(doc, {"op": "down", "timeout": timeout})
    except NotRunningError:
        return _reap_orphans(directory, timeout)  # it died just now
    bound = _stop_bound(doc, timeout)
    if not reap.poll_until(lambda: not state.process_alive(supervisor["pid"], supervisor["create_time"]), bound):
        raise ControlError(f"the supervisor (pid {supervisor['pid']}) did not finish stopping within {bound:g}s",
                           hint=f"run `mesh-compose down` again, or kill {supervisor['pid']}")
    # It is gone; anything it recorded that still lives (it died mid-stop) is reaped here.
    leftovers = [name for name in active if _still_alive(doc["agents"][name])]
    if leftovers:
        reap.reap_project(directory, timeout, only=leftovers)
    order = [name for wave in reap.stop_waves({n: doc["agents"][n] for n in active}) for name in wave]
    width = max(map(len, order), default=0)
    for name in order:
        print(f" ✔ {name.ljust(width)}  stopped")
    print(f"supervisor (pid {supervisor['pid']}) stopped" if active else
          f"no agents were running; supervisor (pid {supervisor['pid']}) stopped")
    return 0


def _alive_agents(doc) -> List[str]:
    return [name for name, record in doc["agents"].items() if _still_alive(record)]


def _still_alive(record) -> bool:
    from meshcompose.control import state

    return state.process_alive(record.get("pid"), record.get("create_time"))


def _stop_bound(doc, timeout: Optional[float]) -> float:
    """Generous: every agent's grace one after another, plus the kill waits."""
    from meshcompose.proc import reap

    graces: Dict[str, float] = {}
    for name, record in doc["agents"].items():
        grace = timeout if timeout is not None else record.get("stop_grace")
        graces[name] = (reap.DEFAULT_GRACE if grace is None else grace) + KILL_ALLOWANCE_SECONDS
    return sum(graces.values()) + 10.0


def _reap_orphans(directory: Path, timeout: Optional[float]) -> int:
    from meshcompose.proc import reap

    outcomes = reap.reap_project(directory, timeout)
    found = [outcome for outcome in outcomes if outcome.found]
    if not found:
        print("nothing to stop: no agents running")
        return 0
    print("the supervisor was gone; stopped what it left:", file=sys.stderr)
    width = max(len(outcome.name) for outcome in found)
    for outcome in found:
        how = "  (killed after its grace period)" if outcome.forced else ""
        print(f" ✔ {outcome.name.ljust(width)}  stopped{how}")
    return 0
