from __future__ import annotations

import anyio

from meshcompose.runtime.events import Notice
from meshcompose.runtime.recorder import Flusher


class CountingSink:
    def __init__(self) -> None:
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_flusher_flushes_soon_after_output_and_never_while_idle():
    sink = CountingSink()
    flusher = Flusher([sink], delay=0.02)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher.run)
            await anyio.sleep(0.3)
            assert sink.flushes == 0  # idle: not woken once
            flusher.agent_lines("a", "out", ["x"] * 3)
            flusher.notice(Notice("started", "a"))
            await anyio.sleep(0.1)
            assert sink.flushes == 1  # one flush for the burst
            await anyio.sleep(0.3)
            assert sink.flushes == 1
            tg.cancel_scope.cancel()
        assert sink.flushes == 2  # and once more on the way out

    anyio.run(main)
