"""`up -d` and `up NAME` against a running project: start a detached
supervisor (or ask the running one), then wait until the agents are up."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Dict, Optional, Sequence

POLL_SECONDS = 0.1


def detach(project, selected: Sequence[str], args: argparse.Namespace, lock) -> int:
    """Starts `up --detached-child` in its own session; it inherits the lock."""
    from meshcompose.cli.up_run import LOCK_FD_VAR

    log_path = project.state_dir / "supervisor.log"
    env = {**os.environ, LOCK_FD_VAR: str(lock.fileno())}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            _child_argv(args.argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, pass_fds=(lock.fileno(),), start_new_session=True, close_fds=True,
        )
    lock.write_holder(child.pid)  # a concurrent `up` names the supervisor, not this short-lived parent
    lock.hand_over()
    return wait_until_up(project, selected, args.wait_timeout, child=child, log_path=log_path)


def _child_argv(given: Sequence[str]) -> list:
    """This very command line, minus -d, plus the flags of a detached supervisor."""
    from meshcompose.cli.main import command_index

    argv = [a for a in given if a not in ("-d", "--detach", "--install")]
    index = command_index(argv)
    return [sys.executable, "-m", "meshcompose", *argv[:index + 1], "--detached-child", "--no-install",
            *[a for a in argv[index + 1:] if a != "--no-install"]]


def start_in_running(project, selected: Sequence[str], args: argparse.Namespace) -> int:
    """`up NAME` while the project runs: the running supervisor starts them."""
    from meshcompose.control import protocol
    from meshcompose.control import state
    from meshcompose.cli.up_run import launches_for

    doc = state.StateStore(project.directory).read()
    launches = launches_for(project, selected, args)
    response = protocol.request(doc, {
        "op": "start", "names": list(selected),
        "launches": {name: spec.to_dict() for name, spec in launches.items()},
    })
    started = response.get("started") or []
    print(f"asked the running supervisor to start: {', '.join(started) or 'nothing (all already up)'}")
    return wait_until_up(project, selected, args.wait_timeout)


def wait_until_up(project, names: Sequence[str], timeout: float, *, child=None, log_path=None) -> int:
    """Until every agent is running (healthy where it has a healthcheck), has
    completed successfully, or can no longer get there; prints the outcome."""
    from meshcompose.control import state

    store = state.StateStore(project.directory)
    deadline = time.monotonic() + timeout
    outcome: Dict[str, Optional[bool]] = {}
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            return _child_died(child, log_path)
        doc = store.read()
        if doc and _ours(doc, child):
            outcome = {name: reached(doc["agents"].get(name), project.agents[name]) for name in names}
            if all(result is not None for result in outcome.values()):
                break
        time.sleep(POLL_SECONDS)
    return _report(project, names, outcome, store.read())


def _ours(doc, child) -> bool:
    supervisor = doc.get("supervisor") or {}
    return child is None or supervisor.get("pid") == child.pid


def reached(record, agent) -> Optional[bool]:
    """True: up (or done). False: will not come up. None: not yet."""
    if not record:
        return None
    status = record.get("status")
    if status == "healthy" or (status == "running" and agent.healthcheck is None):
        return True
    if status == "exited":
        return record.get("exit_code") == 0
    if status in ("failed", "skipped"):
        return False
    return None


def _report(project, names, outcome, doc) -> int:
    agents = (doc or {}).get("agents", {})
    width = max(len(n) for n in names) if names else 0
    failed = 0
    for name in names:
        record = agents.get(name) or {}
        status = record.get("status", "unknown")
        if status == "exited":
            status = f"exited ({record.get('exit_code')})"
        result = outcome.get(name)
        mark = {True: "✔", False: "✘", None: "…"}[result]
        detail = f"  {record['message']}" if record.get("message") and result is not True else ""
        if result is not True:
            failed += 1
            detail += "  (not up in time; see `mesh-compose logs`)" if result is None else ""
        print(f" {mark} {name.ljust(width)}  {status}{detail}")
    return 1 if failed else 0


def _child_died(child, log_path) -> int:
    tail = ""
    if log_path is not None and log_path.exists():
        tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
        tail = "\n".join(tail)
    print(f"the detached supervisor exited with code {child.returncode}:\n{tail}", file=sys.stderr)
    return 1
