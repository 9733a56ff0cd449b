"""ConsoleMux formatting: prefixes, padding, colours, timestamps, events, pipes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
import threading

from meshcompose.cli.console import CONSOLE_BUFFER_BYTES, PALETTE, ConsoleMux

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WHEN = 1714564800.123456


def render(names, actions, **options) -> str:
    out = io.StringIO()
    mux = ConsoleMux(out, names, **{"color": False, **options})
    for action in actions:
        action(mux)
    mux.flush()
    return out.getvalue()


def test_plain_lines_are_padded_to_the_widest_name():
    text = render(["api", "worker"], [lambda m: m.line("api", "hello"), lambda m: m.line("worker", "oops", "err")])
    assert text == "api    | hello\nworker | oops\n"


def test_a_batch_of_lines_reads_exactly_like_single_lines():
    single = render(["api", "worker"], [lambda m: [m.line("api", t, "err") for t in ("a", "", "c")]], color=True)
    batch = render(["api", "worker"], [lambda m: m.lines("api", ["a", "", "c"], "err")], color=True)
    assert batch == single
    assert render(["api"], [lambda m: m.lines("api", ["1", "2"])], prefix=False) == "1\n2\n"


def test_a_name_added_later_widens_every_prefix():
    text = render(["a"], [lambda m: m.line("a", "1"), lambda m: m.add_name("longer"), lambda m: m.line("a", "2"),
                          lambda m: m.line("late", "3")])
    assert text == "a | 1\na      | 2\nlate   | 3\n"


def test_no_prefix_and_timestamps():
    assert render(["api"], [lambda m: m.line("api", "x", when=WHEN)], prefix=False, timestamps=True) == (
        "2024-05-01T12:00:00.123456Z x\n")
    assert render(["api"], [lambda m: m.line("api", "x", when="2024-01-01T00:00:00.000000Z")],
                  timestamps=True) == "api | 2024-01-01T00:00:00.000000Z x\n"
    assert render(["api"], [lambda m: m.line("api", "x")], prefix=False) == "x\n"


def test_colour_is_stable_per_agent_distinct_and_never_red():
    text = render(["api", "worker"], [lambda m: m.line("api", "1"), lambda m: m.line("worker", "2"),
                                      lambda m: m.line("api", "3")], color=True)
    first, second, third = text.splitlines()
    code_of = lambda line: re.match(r"\x1b\[([0-9;]+)m", line).group(1)  # noqa: E731
    assert code_of(first) == code_of(third) != code_of(second)
    assert {code_of(first), code_of(second)} <= set(PALETTE)
    assert ANSI.sub("", text) == "api    | 1\nworker | 2\napi    | 3\n"
    # The same name gets the same colour in another run (e.g. `logs` after `up`).
    again = render(["api"], [lambda m: m.line("api", "1")], color=True)
    assert code_of(again) == code_of(first)


def test_stderr_is_marked_in_colour_only_and_keeps_the_layout():
    text = render(["api"], [lambda m: m.line("api", "out"), lambda m: m.line("api", "err", "err")], color=True)
    out_line, err_line = text.splitlines()
    assert out_line != err_line.replace("err", "out") and "\x1b[31m|" in err_line
    assert ANSI.sub("", text) == "api | out\napi | err\n"


def test_events_are_distinct_from_agent_output_with_and_without_colour():
    actions = [lambda m: m.event("api", "started (pid 42, python 3.11)"),
               lambda m: m.event(None, "stopping", "warning"),
               lambda m: m.event("worker", "exited with code 1", "error")]
    plain = render(["api", "worker"], actions)
    assert plain == ("api    ⇒ started (pid 42, python 3.11)\n"
                     "       ⇒ warning: stopping\n"
                     "worker ⇒ error: exited with code 1\n")
    coloured = render(["api", "worker"], actions, color=True)
    assert ANSI.sub("", coloured) == plain
    assert "\x1b[31;1m" in coloured  # errors in red


def test_ascii_only_stream_gets_an_ascii_marker():
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    mux = ConsoleMux(out, ["api"], color=False)
    mux.event("api", "started")
    mux.flush()
    out.seek(0)
    assert out.buffer.getvalue() == b"api => started\n"


def test_output_is_buffered_until_flush():
    out = io.StringIO()
    mux = ConsoleMux(out, ["api"], color=False)
    mux.line("api", "one")
    assert out.getvalue() == ""
    mux.flush()
    assert out.getvalue() == "api | one\n"


def test_closed_stream_is_not_an_error():
    out = io.StringIO()
    mux = ConsoleMux(out, ["api"], color=False)
    out.close()
    mux.line("api", "x")
    mux.flush()
    assert mux.broken
    mux.line("api", "dropped")
    mux.flush()


def test_reader_leaving_a_pipe_does_not_crash_the_writer():
    """`... | head -1`: the writer keeps going quietly and exits 0, no traceback."""
    code = textwrap.dedent("""
        import sys
        from meshcompose.cli.console import ConsoleMux
        mux = ConsoleMux(sys.stdout, ["api"], color=False)
        for i in range(200000):
            mux.line("api", f"line {i}")
        mux.flush()
        print("broken" if mux.broken else "not broken", file=sys.stderr)
    """)
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = writer.stdout.readline()
    writer.stdout.close()
    err = writer.stderr.read()
    writer.stderr.close()
    assert writer.wait(timeout=60) == 0
    assert first == b"api | line 0\n"
    assert err.decode().strip() == "broken"
    assert os.name != "posix" or b"Traceback" not in err


def test_the_first_agents_get_distinct_colours_never_a_normal_bright_pair():
    names = [f"agent-{index}" for index in range(len(PALETTE))]
    mux = ConsoleMux(io.StringIO(), names, color=True)
    codes = [mux._colors[name] for name in names]
    assert len(set(codes)) == len(names)
    basic = {code[-1] for code in codes if len(code) == 2}  # 3X and 9X are the same hue
    assert len(basic) == sum(1 for code in codes if len(code) == 2)
    assert not any(code.startswith(("31", "91")) or code.endswith(";196") for code in codes)


PIECE = "x" * (64 * 1024)


def _burst(mux: ConsoleMux, buffers: int) -> int:
    """`buffers` times the background buffer in lines of 64 KiB, as fast as
    the caller can make them; how many lines."""
    count = buffers * CONSOLE_BUFFER_BYTES // len(PIECE)
    for _ in range(count):
        mux.lines("api", [PIECE])
    mux.flush()
    return count


def test_a_regular_file_gets_every_line_of_a_burst(tmp_path):
    """`up > out.txt`: a file never stops reading, so a burst far beyond the
    background buffer (agents writing faster than the writer thread is given
    the CPU) is never dropped."""
    with open(tmp_path / "out.txt", "w") as out:
        mux = ConsoleMux(out, ["api"], color=False)
        mux.write_in_background()
        count = _burst(mux, 8)
        mux.drain()
    written = (tmp_path / "out.txt").read_text()
    assert "lines dropped" not in written
    assert written.count(PIECE) == count


def test_a_pipe_that_is_read_gets_every_line_of_a_burst():
    """`up | tee`: the writer thread falls behind a burst of 8 times its buffer
    (the event loop makes lines faster than the thread gets the CPU), and
    catches up; nothing is dropped while the reader reads."""
    read_end, write_end = os.pipe()
    received = []
    reader = threading.Thread(target=lambda: received.append(_read_all(read_end)))
    reader.start()
    with open(write_end, "w", closefd=True) as out:
        mux = ConsoleMux(out, ["api"], color=False)
        mux.write_in_background()
        count = _burst(mux, 8)
        mux.drain()
    reader.join(60)
    text = received[0].decode()
    assert "lines dropped" not in text
    assert text.count(PIECE) == count


def test_a_pipe_nobody_reads_drops_lines_and_says_how_many_once_read():
    """`up | less`, paused: once a write has blocked, lines that do not fit are
    dropped (the supervisor is never held up), and the reader is told how many
    when it reads again."""
    read_end, write_end = os.pipe()
    with open(write_end, "w", closefd=True) as out:
        mux = ConsoleMux(out, ["api"], color=False)
        mux.write_in_background()
        count = _burst(mux, 4)
        dropped = mux._writer.dropped_lines
        assert dropped > 0
        received = []
        reader = threading.Thread(target=lambda: received.append(_read_all(read_end)))
        reader.start()
        mux.line("api", "after")
        mux.drain()
    reader.join(60)
    text = received[0].decode()
    assert text.count(f"\u2026 {dropped} lines dropped: the console is not reading\n") == 1
    assert text.count(PIECE) == count - dropped
    assert text.endswith("api | after\n")


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)
