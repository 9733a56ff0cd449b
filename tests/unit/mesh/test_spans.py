"""Spans and traces from the stream entries the MCP Mesh SDK (3.7.1) really
publishes: one call of greeter's `welcome`, which calls hello's `hello`
(recorded from a real mesh with tracing on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshcompose.mesh import spans

RECORDED = json.loads((Path(__file__).parents[2] / "fixtures" / "trace_spans.json").read_text())


def recorded_spans() -> list[spans.Span]:
    parsed = [spans.parse(entry_id, fields) for entry_id, fields in RECORDED]
    assert all(parsed)
    return parsed  # type: ignore[return-value]


def test_one_call_across_two_agents_is_one_trace_with_its_root():
    (trace,) = spans.group(recorded_spans())
    assert trace.trace_id == "fb74b43335ae4ebc8911f279b5cc172e"
    assert (trace.root.agent, trace.root.function, trace.root.parent_id) == ("greeter", "welcome", None)
    assert trace.agents == ("greeter", "hello") and len(trace.spans) == 3
    assert trace.complete and not trace.failed
    assert trace.duration_ms == pytest.approx(479.95, abs=0.01)


def test_the_waterfall_nests_each_span_under_its_caller():
    (trace,) = spans.group(recorded_spans())
    rows = spans.waterfall(trace)
    assert [(row.depth, row.span.agent, row.span.label) for row in rows] == [
        (0, "greeter", "welcome"), (1, "greeter", "call http://127.0.0.1:18101"), (2, "hello", "hello")]
    assert rows[0].offset_ms == 0
    for parent, child in zip(rows, rows[1:]):  # each call lies within its caller's time
        assert parent.offset_ms <= child.offset_ms
        assert child.offset_ms + child.span.duration_ms <= parent.offset_ms + parent.span.duration_ms + 0.01


def test_a_failed_span_carries_its_error_text():
    entry_id, fields = RECORDED[0]
    failed = spans.parse(entry_id, {**fields, "success": "False", "error": "ValueError: no such item"})
    assert failed is not None and not failed.ok and failed.error == "ValueError: no such item"
    (trace,) = spans.group([*recorded_spans()[1:], failed])
    assert trace.failed


def test_entries_that_are_not_spans_are_skipped_and_damage_is_bounded():
    assert spans.parse("1-0", {"trace_id": "t"}) is None
    assert spans.parse("1-0", {"trace_id": "t", "span_id": "s", "start_time": "x", "end_time": "1"}) is None
    entry_id, fields = RECORDED[0]
    damaged = spans.parse(entry_id, {**fields, "error": "e" * 100_000, "dependencies": "[" * 100_000,
                                     "agent_name": "a\x1b]0;t\x07" * 1000})
    assert damaged is not None and len(damaged.error or "") == spans.MAX_TEXT and damaged.targets == ()
    assert len(damaged.agent) <= 200


def test_a_trace_whose_root_is_missing_or_loops_still_draws():
    root, proxy, leaf = recorded_spans()[2], recorded_spans()[1], recorded_spans()[0]
    (partial,) = spans.group([proxy, leaf])  # the root is still running
    assert not partial.complete and partial.root is proxy
    assert [row.span for row in spans.waterfall(partial)] == [proxy, leaf]
    looping = spans.Span(**{**leaf.__dict__, "parent_id": leaf.span_id})
    (trace,) = spans.group([root, looping])
    assert {row.span.span_id for row in spans.waterfall(trace)} == {root.span_id, looping.span_id}
