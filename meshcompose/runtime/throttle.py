"""A fractional `cpu_limit` as a SIGSTOP/SIGCONT duty cycle on the agent's group.

In every period of 100 ms the group runs for `share` of it and is stopped for
the rest, so over any second it gets `share` of each CPU it may use (the
watcher pins it to one CPU first, which makes that `share` of one CPU).
Only agents with a fractional limit have a duty cycle, so only they cost
anything. A stopped group cannot act on SIGTERM, and a supervisor that leaves
a group stopped leaves a frozen agent behind: the cycle always ends with
SIGCONT, even when cancelled.
"""

from __future__ import annotations

import os
import signal

import anyio

from meshcompose.proc import process

PERIOD_SECONDS = 0.1
HAS_JOB_CONTROL = hasattr(signal, "SIGSTOP") and os.name == "posix"


class DutyCycle:
    """Runs the group `ident` leads for `share` (0 < share < 1) of each period."""

    def __init__(self, ident: process.ProcessIdentity, share: float, period: float = PERIOD_SECONDS) -> None:
        if not 0 < share < 1:
            raise ValueError(f"a duty cycle needs 0 < share < 1, not {share}")
        self.ident = ident
        self.share = share
        self.period = period
        self._scope: anyio.CancelScope | None = None
        self._stopped = False
        self.done = anyio.Event()

    async def run(self) -> None:
        """Until `release()` or the group is gone; always leaves it running."""
        running_for, stopped_for = self.period * self.share, self.period * (1 - self.share)
        try:
            with anyio.CancelScope() as self._scope:
                while True:
                    await anyio.sleep(running_for)
                    if not self._signal("SIGSTOP"):
                        return
                    await anyio.sleep(stopped_for)
                    if not self._signal("SIGCONT"):
                        return
        finally:
            self.release()
            self.done.set()

    def release(self) -> None:
        """End the cycle now and let the group run (safe to call more than once)."""
        if self._scope is not None:
            self._scope.cancel()
        if self._stopped:
            self._signal("SIGCONT")

    def _signal(self, name: str) -> bool:
        delivered = process.signal_group(self.ident, name)
        self._stopped = delivered and name == "SIGSTOP"
        return delivered
