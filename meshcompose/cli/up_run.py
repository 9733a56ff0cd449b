"""The foreground `up`: resolve environments, then supervise until stopped."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import anyio

# How often buffered console and log-file output is flushed.
FLUSH_INTERVAL = 0.05


def run_foreground(project, selected: Sequence[str], args: argparse.Namespace) -> int:
    from meshcompose import launch
    from meshcompose.cli.environments import ensure_environments
    from meshcompose.supervisor import RunOptions, Supervisor

    launch.preflight([project.agents[name] for name in selected])
    resolved = ensure_environments(project, selected, args, sys.stderr)
    launches = launch.build_launches(project, selected, resolved, os.environ)
    mux, recorder, observer = _observers(project, selected, args)
    options = RunOptions(
        abort_on_exit=args.abort_on_exit,
        exit_code_from=args.exit_code_from,
        stop_timeout=args.timeout,
    )
    supervisor = Supervisor(project, launches, observer, options)
    try:
        return anyio.run(_supervise, supervisor, selected, (mux, recorder))
    finally:
        recorder.close()
        mux.flush()


async def _supervise(supervisor, selected, flushables) -> int:
    async with anyio.create_task_group() as tg:
        tg.start_soon(_flush_forever, flushables)
        code = await supervisor.run(selected)
        tg.cancel_scope.cancel()
    return code


async def _flush_forever(flushables) -> None:
    while True:
        await anyio.sleep(FLUSH_INTERVAL)
        for item in flushables:
            item.flush()


def _observers(project, selected, args):
    from meshcompose.cli.console_observer import ConsoleObserver
    from meshcompose.cli.render import color_enabled
    from meshcompose.console import ConsoleMux
    from meshcompose.events import FanOut
    from meshcompose.recorder import LogRecorder

    mux = ConsoleMux(
        sys.stdout, list(selected),
        color=color_enabled(sys.stdout, args.no_color),
        prefix=not args.no_log_prefix,
        timestamps=args.timestamps,
    )
    recorder = LogRecorder(project.state_dir / "logs")
    return mux, recorder, FanOut([ConsoleObserver(mux), recorder])
