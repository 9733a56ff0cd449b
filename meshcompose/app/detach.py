"""The detached supervisor of `up -d`: its one entry point, and how `up -d`
starts it.

`python -m meshcompose.app.detach PLAN` (or `--standby`, the plan handed
later) runs `runtime.detached.main` with watch mode's rebuild, which is the
application's launch step and so cannot live in the runtime; it is imported
only when the plan watches.

The CLI asks for the standby (`runtime.detached.Standby`) before it loads
the project or imports anything heavy, so the supervisor's interpreter
starts and imports the runtime on another core while `up -d` loads and
plans; `app.up` hands it the plan, or starts a supervisor the plain way
(`start`) when there is no standby. Light at import time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meshcompose.runtime import detached

if TYPE_CHECKING:
    from meshcompose.control.lock import ProjectLock
    from meshcompose.plan.runplan import RunPlan
    from meshcompose.runtime.watch import Rebuild

ENTRY_MODULE = "meshcompose.app.detach"


def start(plan_path: Path, lock: ProjectLock, log_path: Path) -> subprocess.Popen:
    """A detached supervisor of `plan_path`, started now; it holds `lock`."""
    return detached.start(plan_path, lock, log_path, ENTRY_MODULE)


@contextlib.contextmanager
def standby_supervisor(detach: bool) -> Iterator[detached.Standby | None]:
    """A standby for a detached `up`, else None. Unused when the block ends, it is ended."""
    standby = None
    if detach:
        with contextlib.suppress(OSError):  # without one, `up -d` starts its supervisor once it has planned
            standby = detached.Standby(ENTRY_MODULE)
    try:
        yield standby
    finally:
        if standby is not None:
            standby.close()


def _rebuild_for(plan: RunPlan) -> Rebuild:
    from meshcompose.app.watch import detached_rebuilder

    return detached_rebuilder(plan)


def main(argv: Sequence[str]) -> int:
    return detached.main(argv, rebuild_for=_rebuild_for)


if __name__ == "__main__":
    # When `main` returns, everything the supervisor owns is closed (log files,
    # the socket, the lock; the state file is written atomically), and `down`
    # waits for this process to be gone: the interpreter's teardown of
    # everything imported would only delay it. So the output is flushed and
    # the process ends at once.
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
