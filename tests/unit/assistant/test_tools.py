"""The assistant's tools without MCP: bounds, text, and the events window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshcompose.app.logs import Record
from meshcompose.assistant import tools
from meshcompose.errors import UsageError


@pytest.mark.parametrize("value", [0, -1, 1001, 2.5, True, "10"])
def test_counts_outside_the_bounds_are_usage_errors(value):
    with pytest.raises(UsageError, match="lines: expected a whole number from 1 to 1000"):
        tools.bounded_count(value, "lines")


@pytest.mark.parametrize("value", [-1, 601, float("nan"), float("inf"), True])
def test_timeouts_outside_the_bounds_are_usage_errors(value):
    with pytest.raises(UsageError, match="timeout: expected seconds"):
        tools.bounded_seconds(value)


def test_printable_keeps_text_and_shows_controls():
    assert tools.printable("a\tb\nc é ✓") == "a\tb\nc é ✓"
    assert tools.printable("\x1b]0;title\x07\x00\x9b2J\x1b[31mred") == "^[]0;title^G^@<9b>2Jred"


def test_logs_keep_the_newest_matches_within_the_byte_cap():
    keep = tools._Keep(3, "Hit")
    keep.show([Record(f"t{n}", "out", f"hit {n}" if n % 2 else "miss", "a") for n in range(10)])
    keep.show([Record("t", "run", "hit: run started", "a")])
    kept, cut = keep.result()
    assert [r.text for r in kept] == ["hit 5", "hit 7", "hit 9"] and cut
    big = tools._Keep(1000, None)
    big.show([Record("t", "out", "x" * 1000, "a")] * 200)
    kept, cut = big.result()
    assert cut and sum(len(r.text) for r in kept) <= tools.MAX_BYTES


def test_events_are_the_newest_of_the_agent_since_the_time(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    lines = [{"time": f"2026-12-07T04:00:0{n}.000000Z", "service": "a" if n % 2 else "b", "action": "start"}
             for n in range(8)]
    path.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines) + b"not json\n")
    newest, cut = tools._newest_events(path, "a", "2026-12-07T04:00:03.000000Z", 2)
    assert [event["time"][-10:] for event in newest] == ["05.000000Z", "07.000000Z"] and cut
    assert tools._newest_events(tmp_path / "none.jsonl", None, None, 5) == ([], False)


def test_events_read_only_the_newest_part_of_a_huge_file(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tools, "EVENTS_READ_BYTES", 1000)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(json.dumps({"time": f"{n:05d}", "service": "a"}).encode() + b"\n"
                              for n in range(500)))
    newest, cut = tools._newest_events(path, None, None, 1000)
    assert cut and newest[-1]["time"] == "00499" and 0 < len(newest) < 40
