"""Trace spans as the MCP Mesh SDK publishes them, and the traces they make.

Each traced call in an SDK agent adds one entry to the Redis stream
`mesh:trace` when it ends: its trace and span ids, its parent span (none for
the call that started the trace), the agent, the function, start and end as
Unix times, and whether it succeeded with the error's text. Every value is a
string. This module turns entries into spans and spans into traces and
waterfalls; it does no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_TEXT = 2000  # an error text longer than this is cut: a span is a line in a table, not a log
PROXY_FUNCTION = "proxy_call_wrapper"  # the SDK's span for an outgoing call to a dependency


@dataclass(frozen=True)
class Span:
    entry_id: str  # the stream entry's id
    trace_id: str
    span_id: str
    parent_id: str | None
    agent: str  # the agent's name
    agent_id: str
    function: str  # the tool (or the SDK's proxy_call_wrapper for an outgoing call)
    start: float
    end: float
    ok: bool
    error: str | None
    targets: tuple[str, ...] = ()  # what it depends on: capabilities, or the endpoint a proxy called

    @property
    def duration_ms(self) -> float:
        return max(0.0, (self.end - self.start) * 1000)

    @property
    def label(self) -> str:
        if self.function == PROXY_FUNCTION:
            return "call " + (", ".join(self.targets) or "a dependency")
        return self.function


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]  # in start order

    @property
    def root(self) -> Span:
        roots = [span for span in self.spans if span.parent_id is None]
        return roots[0] if roots else self.spans[0]

    @property
    def start(self) -> float:
        return min(span.start for span in self.spans)

    @property
    def duration_ms(self) -> float:
        return max(0.0, (max(span.end for span in self.spans) - self.start) * 1000)

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(span.agent for span in self.spans))

    @property
    def failed(self) -> bool:
        return any(not span.ok for span in self.spans)

    @property
    def complete(self) -> bool:
        """The call that started the trace has ended (its span is published last)."""
        return any(span.parent_id is None for span in self.spans)


@dataclass(frozen=True)
class WaterfallRow:
    span: Span
    depth: int
    offset_ms: float  # from the trace's start


def parse(entry_id: str, fields: Mapping[str, str]) -> Span | None:
    """A span from one stream entry; None for an entry that is not one."""
    try:
        start, end = float(fields["start_time"]), float(fields["end_time"])
        trace_id, span_id = fields["trace_id"], fields["span_id"]
    except (KeyError, ValueError):
        return None
    if not trace_id or not span_id:
        return None
    error = fields.get("error")
    return Span(
        entry_id=entry_id, trace_id=trace_id[:64], span_id=span_id[:64], parent_id=_none(fields.get("parent_span")),
        agent=fields.get("agent_name", "?")[:200], agent_id=fields.get("agent_id", "?")[:200],
        function=fields.get("function_name", "?")[:200], start=start, end=end,
        ok=fields.get("success", "").lower() == "true",
        error=None if _none(error) is None else str(error)[:MAX_TEXT], targets=_list(fields.get("dependencies")),
    )


def group(spans: Iterable[Span]) -> list[Trace]:
    """Traces, newest first."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    traces = [Trace(trace_id, tuple(sorted(members, key=lambda s: (s.start, s.end))))
              for trace_id, members in by_trace.items()]
    return sorted(traces, key=lambda trace: trace.start, reverse=True)


def waterfall(trace: Trace) -> list[WaterfallRow]:
    """Each span under its parent, children in start order. A span whose
    parent is missing (not published yet, or trimmed) is shown at the top
    level, and so is one caught in a loop of parents (a damaged stream)."""
    ids = {span.span_id for span in trace.spans}
    children: dict[str | None, list[Span]] = {}
    for span in trace.spans:
        parent = span.parent_id if span.parent_id in ids and span.parent_id != span.span_id else None
        children.setdefault(parent, []).append(span)
    rows: list[WaterfallRow] = []
    seen: set[str] = set()
    for top in [*children.get(None, []), *trace.spans]:
        stack = [(top, 0)]
        while stack:
            span, depth = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            rows.append(WaterfallRow(span, depth, (span.start - trace.start) * 1000))
            stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))
    return rows


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "null", "None") else value


def _list(value: str | None) -> tuple[str, ...]:
    try:
        items = json.loads(value[:MAX_TEXT]) if value else []
    except (ValueError, RecursionError):
        return ()
    return tuple(str(item)[:200] for item in items[:20]) if isinstance(items, list) else ()
