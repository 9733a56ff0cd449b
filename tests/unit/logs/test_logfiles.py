"""Per-agent log files: record format, buffering, rotation, reading back."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from meshcompose.logs.logfiles import LogFile, agent_log_paths, agents_with_logs
from meshcompose.logs.logread import LogFollower, last_lines, read_records, tail_records
from meshcompose.logs.logrecord import Record, format_record, parse_record, utc_timestamp

WHEN = 1714564800.123456  # 2024-05-01T12:00:00.123456Z


def test_record_format_is_the_documented_contract():
    assert format_record("err", "boom", WHEN) == "2024-05-01T12:00:00.123456Z err boom\n"
    assert utc_timestamp(WHEN + 1.5)[:26] == "2024-05-01T12:00:01.623456"
    assert format_record("out", "a\nb", WHEN).count("\n") == 1


def test_a_batch_is_one_record_per_line_with_one_timestamp(tmp_path: Path):
    log = LogFile(tmp_path / "a.log")
    log.write_lines("err", ["first", "", "with\nnewline"], when=1714564800.5)
    log.close()
    records = [parse_record(line) for line in (tmp_path / "a.log").read_text().splitlines()]
    assert [(r.when, r.stream, r.text) for r in records] == [
        ("2024-05-01T12:00:00.500000Z", "err", "first"),
        ("2024-05-01T12:00:00.500000Z", "err", ""),
        ("2024-05-01T12:00:00.500000Z", "err", "with\\nnewline"),
    ]


def test_parse_keeps_foreign_lines_as_text():
    assert parse_record("2024-05-01T12:00:00.123456Z out  two  spaces ", "a") == Record(
        "2024-05-01T12:00:00.123456Z", "out", " two  spaces ", "a")
    assert parse_record("2024-05-01T12:00:00.123456Z err", "a").text == ""
    assert parse_record("garbage line", "a", "T0") == Record("T0", "out", "garbage line", "a")


def test_write_buffers_then_flushes_and_close_writes_everything(tmp_path: Path):
    path = tmp_path / "logs" / "api.log"
    log = LogFile(path)
    log.write("out", "one", WHEN)
    log.write("err", "two", WHEN + 1)
    assert path.read_text() == ""  # buffered: written at most 0.2 s later
    log.close()
    assert path.read_text() == (
        "2024-05-01T12:00:00.123456Z out one\n2024-05-01T12:00:01.123456Z err two\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_write_after_the_interval_flushes(tmp_path: Path):
    with LogFile(tmp_path / "a.log") as log:
        log.write("out", "first")
        time.sleep(0.25)
        log.write("out", "second")
        assert (tmp_path / "a.log").read_text().count("\n") == 2


def test_rotation_by_size_keeps_backups_and_drops_the_oldest(tmp_path: Path):
    path = tmp_path / "api.log"
    record_size = len(format_record("out", "line 000", WHEN))
    with LogFile(path, max_bytes=record_size * 10, backups=2) as log:
        for i in range(45):
            log.write("out", f"line {i:03d}", WHEN + i)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.log", "api.log.1", "api.log.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= record_size * 10
    texts = [r.text for r in read_records(agent_log_paths(tmp_path, "api"))]
    assert texts == [f"line {i:03d}" for i in range(20, 45)]  # 0-19 rotated out


def test_reopening_appends_and_counts_the_existing_size(tmp_path: Path):
    path = tmp_path / "api.log"
    record_size = len(format_record("out", "x", WHEN))
    for _ in range(2):
        with LogFile(path, max_bytes=record_size * 3) as log:
            log.write("out", "x", WHEN)
            log.write("out", "x", WHEN)
    assert path.read_text().count("\n") == 1
    assert (tmp_path / "api.log.1").read_text().count("\n") == 3


def test_zero_backups_just_starts_over(tmp_path: Path):
    record_size = len(format_record("out", "x", WHEN))
    with LogFile(tmp_path / "a.log", max_bytes=record_size * 2, backups=0) as log:
        for _ in range(5):
            log.write("out", "x", WHEN)
    assert os.listdir(tmp_path) == ["a.log"]


def test_tail_spans_rotated_files_and_stops_at_an_offset(tmp_path: Path):
    record_size = len(format_record("out", "n 00", WHEN))
    with LogFile(tmp_path / "w.log", max_bytes=record_size * 4) as log:
        for i in range(10):
            log.write("out", f"n {i:02d}", WHEN + i)
    assert [r.text for r in tail_records(tmp_path, "w", 6)] == [f"n {i:02d}" for i in range(4, 10)]
    assert [r.text for r in tail_records(tmp_path, "w", None)] == [f"n {i:02d}" for i in range(10)]
    assert [r.text for r in tail_records(tmp_path, "w", 2, end=record_size)] == ["n 07", "n 08"]
    assert tail_records(tmp_path, "w", 0) == []
    assert agents_with_logs(tmp_path) == ["w"]


def test_last_lines_reads_backwards_across_blocks(tmp_path: Path):
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"%06d %s\n" % (i, b"q" * 100) for i in range(3000)))
    lines = last_lines(path, 1500)
    assert len(lines) == 1500 and lines[0].startswith(b"001500") and lines[-1].startswith(b"002999")


def test_follower_sees_appends_truncation_rotation_and_new_agents(tmp_path: Path):
    (tmp_path / "a.log").write_text("2024-05-01T12:00:00.000000Z out old\n")
    follower = LogFollower(tmp_path)
    assert follower.poll() == []  # starts at the end
    with open(tmp_path / "a.log", "a") as f:
        f.write("2024-05-01T12:00:01.000000Z out new\n2024-05-01T12:00:02.000000Z out half")
    assert [r.text for r in follower.poll()] == ["new"]
    with open(tmp_path / "a.log", "a") as f:
        f.write(" done\n")
    assert [r.text for r in follower.poll()] == ["half done"]
    os.rename(tmp_path / "a.log", tmp_path / "a.log.1")
    with open(tmp_path / "a.log.1", "a") as f:
        f.write("2024-05-01T12:00:03.000000Z out last of old\n")
    (tmp_path / "a.log").write_text("2024-05-01T12:00:04.000000Z out first of new\n")
    (tmp_path / "b.log").write_text("2024-05-01T12:00:03.500000Z err b appears\n")
    polled = follower.poll()
    assert [(r.agent, r.text) for r in polled] == [
        ("a", "last of old"), ("b", "b appears"), ("a", "first of new")]
    (tmp_path / "b.log").write_text("2024-05-01T12:00:05.000000Z out b rewritten\n")  # truncated, shorter
    os.truncate(tmp_path / "b.log", 0)
    with open(tmp_path / "b.log", "a") as f:
        f.write("2024-05-01T12:00:06.000000Z out b again\n")
    assert [r.text for r in follower.poll()] == ["b again"]
    follower.close()


def test_following_a_named_agent_whose_file_appears_later(tmp_path: Path):
    (tmp_path / "other.log").write_text("2024-05-01T12:00:00.000000Z out not followed\n")
    follower = LogFollower(tmp_path, ["later"])
    assert follower.poll() == [] and follower.offsets() == {}
    (tmp_path / "later.log").write_text("2024-05-01T12:00:01.000000Z out from the start\n")
    (tmp_path / "other.log").write_text("2024-05-01T12:00:02.000000Z out still not\n")
    assert [(r.agent, r.text) for r in follower.poll()] == [("later", "from the start")]
    follower.close()
