"""`mesh-compose down [-t SECONDS]`: stop every agent, newest dependents
first, and end the supervisor; return only when every process is gone."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from meshcompose.cli.values import duration_argument

if TYPE_CHECKING:
    from meshcompose.app.down import DownResult


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("-t", "--timeout", type=duration_argument, metavar="SECONDS",
                        help="stop grace period for every agent, instead of each one's stop_grace_period")
    parser.add_argument("--registry", action="store_true",
                        help="also stop the managed MCP Mesh registry when other projects' agents use it")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import down as app_down
    from meshcompose.cli.options import project_identity

    options = app_down.DownOptions(timeout=args.timeout, registry=args.registry)
    return render(app_down.down(project_identity(args), options))


def render(result: DownResult) -> int:
    from meshcompose.app.down import DownMode
    from meshcompose.cli.render import print_marked

    for note in result.notes:
        print(note, file=sys.stderr)
    if result.registry_kept_for:
        print_marked([("✔", agent.name, "stopped") for agent in result.stopped])
        print(f"the MCP Mesh registry keeps running: other projects' agents use it "
              f"({', '.join(result.registry_kept_for)}); `down --registry` stops it anyway",
              file=sys.stderr)
    elif result.mode is DownMode.NEVER_RAN:
        print("nothing to stop: the project has not run here")
    elif result.mode is DownMode.SUPERVISOR:
        print_marked([("✔", agent.name, "stopped") for agent in result.stopped])
        print(f"supervisor (pid {result.supervisor_pid}) stopped" if result.stopped else
              f"no agents were running; supervisor (pid {result.supervisor_pid}) stopped")
    elif result.mode is DownMode.FORCED:
        print_marked([("✔", agent.name, "stopped" + ("  (killed after its grace period)" if agent.forced else ""))
                      for agent in result.stopped])
        if result.supervisor_pid is not None:
            print(f"supervisor (pid {result.supervisor_pid}) stopped")
        elif not result.stopped:
            print("nothing to stop: no agents running")
    elif not result.stopped:
        print("nothing to stop: no agents running")
    else:
        print("the supervisor was gone; stopped what it left:", file=sys.stderr)
        print_marked([("✔", agent.name, "stopped" + ("  (killed after its grace period)" if agent.forced else ""))
                      for agent in result.stopped])
    return 0
