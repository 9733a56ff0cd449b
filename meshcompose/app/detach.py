"""How `up -d` starts its supervisor: which module it runs, and the standby.

The CLI asks for the standby (`runtime.detached.Standby`) before it loads
the project or imports anything heavy, so the supervisor's interpreter
starts and imports the runtime on another core while `up -d` loads and
plans; `app.up` hands it the plan, or starts a supervisor the plain way
when there is no standby. Light at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from meshcompose.runtime import detached

# `up -d --watch`: the runtime's entry point plus the application's rebuild (app.watch).
WATCH_ENTRY_MODULE = "meshcompose.app.watch"


def entry_module(watch: bool) -> str:
    return WATCH_ENTRY_MODULE if watch else detached.ENTRY_MODULE


@contextlib.contextmanager
def standby_supervisor(detach: bool, watch: bool) -> Iterator[detached.Standby | None]:
    """A standby for a detached `up`, else None. Unused when the block ends, it is ended."""
    standby = None
    if detach:
        with contextlib.suppress(OSError):  # without one, `up -d` starts its supervisor once it has planned
            standby = detached.Standby(entry_module(watch))
    try:
        yield standby
    finally:
        if standby is not None:
            standby.close()
