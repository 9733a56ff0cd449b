"""The log pump against real subprocesses and a scripted byte stream."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Sequence

import anyio
import anyio.abc
import pytest

from meshcompose.logs.logpump import pump


async def pump_process(code: str, *, max_line: int = 64 * 1024) -> list[str]:
    lines: list[str] = []
    async with await anyio.open_process([sys.executable, "-c", textwrap.dedent(code)]) as process:
        with anyio.fail_after(30):
            await pump(process.stdout, lines.extend, max_line=max_line)
            await process.wait()
    return lines


def run(code: str, **kwargs) -> list[str]:
    return anyio.run(lambda: pump_process(code, **kwargs))


def test_lines_crlf_and_partial_last_line_at_exit():
    lines = run("""
        import sys
        sys.stdout.buffer.write(b"first\\nwindows\\r\\n\\nno newline at the end")
    """)
    assert lines == ["first", "windows", "", "no newline at the end"]


def test_invalid_utf8_is_replaced_not_fatal():
    lines = run("""
        import sys
        sys.stdout.buffer.write(b"ok \\xff\\xfe end\\n" + "caf\\u00e9\\n".encode())
    """)
    assert lines == ["ok \ufffd\ufffd end", "café"]


def test_ten_megabyte_line_without_newline_is_split_into_bounded_pieces():
    lines = run("""
        import sys
        sys.stdout.buffer.write(b"x" * 10_000_000)
        sys.stdout.buffer.write(b"\\nafter\\n")
    """)
    assert lines[-1] == "after"
    pieces = lines[:-1]
    assert sum(len(piece) for piece in pieces) == 10_000_000
    assert max(len(piece) for piece in pieces) <= 64 * 1024
    assert len(pieces) >= 10_000_000 // (64 * 1024)


def test_split_never_cuts_a_multibyte_character():
    lines = run("""
        import sys
        sys.stdout.buffer.write(("\\u00e9" * 1000).encode())  # 2000 bytes, no newline
    """, max_line=101)
    assert "\ufffd" not in "".join(lines)
    assert "".join(lines) == "é" * 1000
    assert max(len(line.encode()) for line in lines) <= 101


class ScriptedStream(anyio.abc.ByteReceiveStream):
    """Hands out fixed chunks, then ends the way `ending` says."""

    def __init__(self, chunks: Sequence[bytes], ending: type[Exception] = anyio.EndOfStream) -> None:
        self.chunks = list(chunks)
        self.ending = ending

    async def receive(self, max_bytes: int = 65536) -> bytes:
        await anyio.lowlevel.checkpoint()
        if not self.chunks:
            raise self.ending
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("ending", [anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError])
def test_lines_across_chunk_boundaries_and_any_stream_ending(ending):
    lines: list[str] = []
    stream = ScriptedStream([b"ab", b"c\nd", b"e\n\xc3", b"\xa9 tail"], ending)
    anyio.run(pump, stream, lines.extend)
    assert lines == ["abc", "de", "é tail"]


def test_long_terminated_line_in_one_chunk_is_split_too():
    lines: list[str] = []
    anyio.run(lambda: pump(ScriptedStream([b"a" * 25 + b"\nb\n"]), lines.extend, max_line=10))
    assert lines == ["a" * 10, "a" * 10, "a" * 5, "b"]


def test_fast_writer_does_not_starve_a_slow_one():
    """Both pumps share one task group; the slow agent's lines arrive while the
    fast one is still flooding, not after it ends."""
    fast_code = """
        import sys, time
        end = time.time() + 4
        line = b"y" * 200 + b"\\n"
        while time.time() < end:
            sys.stdout.buffer.write(line * 500)
    """
    slow_code = """
        import sys, time
        for i in range(5):
            print(f"slow {i}", flush=True)
            time.sleep(0.1)
    """
    arrivals: dict = {"slow": [], "fast_done": None, "fast_lines": 0}

    def on_fast(lines: list[str]) -> None:
        arrivals["fast_lines"] += len(lines)

    async def main() -> None:
        async def fast() -> None:
            async with await anyio.open_process([sys.executable, "-c", textwrap.dedent(fast_code)]) as process:
                await pump(process.stdout, on_fast)
                await process.wait()
            arrivals["fast_done"] = time.monotonic()

        async def slow() -> None:
            async with await anyio.open_process([sys.executable, "-c", textwrap.dedent(slow_code)]) as process:
                await pump(process.stdout, lambda lines: arrivals["slow"].extend((line, time.monotonic()) for line in lines))
                await process.wait()

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(fast)
                group.start_soon(slow)

    anyio.run(main)
    assert [line for line, _ in arrivals["slow"]] == [f"slow {i}" for i in range(5)]
    assert arrivals["fast_lines"] > 10_000  # the fast writer really was flooding
    last_slow = arrivals["slow"][-1][1]
    assert last_slow < arrivals["fast_done"] - 1.0  # ~3 s before the flood ended


class NeverWaitingStream(anyio.abc.ByteReceiveStream):
    """Always has data ready and never suspends, like a pipe that a flooding
    writer keeps full; ends after `chunks` chunks."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self.left:
            raise anyio.EndOfStream
        self.left -= 1
        return b"z" * 100 + b"\n"

    async def aclose(self) -> None:
        pass


def test_pump_yields_to_other_tasks_even_when_data_is_always_ready():
    stream = NeverWaitingStream(2000)
    seen_left = []

    async def other() -> None:
        await anyio.sleep(0)
        seen_left.append(stream.left)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(pump, stream, lambda line: None)
            group.start_soon(other)

    anyio.run(main)
    assert seen_left and seen_left[0] > 1000  # ran while the flood was still on
