"""`traces` and `trace ID`: the MCP Mesh calls of a run with `tracing:`,
read from the Redis stream its agents publish to.

Reads with XREVRANGE and XREAD, never with a consumer group, so the
registry's own group (which exports to Tempo) sees every span as before.
Needs only the project directory: the Redis's URL is in the state file.
redis-py is imported here only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshcompose.app.project import ProjectIdentity
from meshcompose.control import state
from meshcompose.errors import MeshComposeError, UsageError
from meshcompose.mesh import spans
from meshcompose.mesh.spans import Trace, waterfall
from meshcompose.mesh.tracing import STREAM

# Trace and waterfall: what the CLI renders (it may not import mesh/ itself).
__all__ = ["Listing", "Trace", "TracesOptions", "detail", "ended", "follow", "new_trace_id", "one", "recent",
           "require", "summary", "waterfall"]

if TYPE_CHECKING:
    import redis

READ_SPANS = 10_000  # the newest spans `traces` looks at: memory stays bounded on a busy stream
FOLLOW_BLOCK_MS = 250
# A trace is shown by `-f` when its first call ends; one whose root never
# arrives (its agent died mid-call) is shown after this long without news.
INCOMPLETE_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class TracesOptions:
    agent: str | None = None  # only traces this agent took part in
    since: str | None = None  # as `logs --since` takes it: RFC 3339, Unix time, or a duration ago
    limit: int = 20


class TracesError(MeshComposeError):
    pass


@dataclass(frozen=True)
class Listing:
    traces: list[spans.Trace]  # newest first
    position: str  # the stream's newest entry when read: `follow` goes on from there


def recent(project: ProjectIdentity, options: TracesOptions) -> Listing:
    """The newest traces."""
    low = f"{int(_unix_time(options.since) * 1000)}-0" if options.since else "-"
    client = _client(project)
    entries = _call(client, lambda: client.xrevrange(STREAM, max="+", min=low, count=READ_SPANS))
    newest = entries[0][0] if entries else _newest_id(client)
    traces = spans.group(_spans(entries))
    return Listing([trace for trace in traces if _wanted(trace, options)][:options.limit], newest)


def _newest_id(client: redis.Redis) -> str:
    newest = _call(client, lambda: client.xrevrange(STREAM, count=1))
    return str(newest[0][0]) if newest else "0-0"


def new_trace_id() -> str:
    """An id for a call's trace, in the SDK's form (32 hex digits)."""
    import secrets

    return secrets.token_hex(16)


def require(project: ProjectIdentity) -> None:
    """TracesError unless the project's run has tracing on (before a call that would trace)."""
    _client(project)


def ended(project: ProjectIdentity, trace_id: str, timeout: float = 5.0) -> spans.Trace:
    """The trace `trace_id` once its first call's span is published (agents
    publish a span as each call ends, a moment after its answer); what there
    is of it after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            trace = one(project, trace_id)
        except TracesError:
            trace = None
        if trace is not None and (trace.complete or time.monotonic() > deadline):
            return trace
        if time.monotonic() > deadline:
            raise TracesError(f"no span of trace {trace_id} arrived within {timeout:g}s",
                              hint="the agent may not publish spans: is it an MCP Mesh SDK agent?")
        time.sleep(0.1)


def one(project: ProjectIdentity, trace_id: str) -> spans.Trace:
    """The trace whose id is `trace_id`, or starts with it (at least 4 characters)."""
    if not re.fullmatch(r"[0-9a-fA-F]{4,64}", trace_id):
        raise UsageError(f"not a trace id: {trace_id!r} (4 to 64 hex digits, as `traces` shows them)")
    client = _client(project)
    entries = _call(client, lambda: client.xrevrange(STREAM, count=READ_SPANS))
    found = [trace for trace in spans.group(_spans(entries)) if trace.trace_id.startswith(trace_id.lower())]
    if not found:
        raise TracesError(f"no trace {trace_id} among the newest {READ_SPANS} spans",
                          hint="`mesh-compose traces` lists the recent ones")
    if len(found) > 1:
        raise TracesError(f"{trace_id} is the start of {len(found)} traces' ids",
                          hint="give more of it: " + ", ".join(trace.trace_id[:12] for trace in found[:5]))
    return found[0]


def follow(project: ProjectIdentity, options: TracesOptions, after: str) -> Iterator[spans.Trace]:
    """Each trace that ends after the stream entry `after` (a listing's
    position), as it ends, until the caller stops."""
    client = _client(project)
    last = after
    pending: dict[str, list[spans.Span]] = {}
    news: dict[str, float] = {}
    while True:
        answer = _call(client, lambda after=last: client.xread({STREAM: after}, block=FOLLOW_BLOCK_MS, count=1000))
        for _stream, entries in answer or ():
            for span in _spans(entries):
                pending.setdefault(span.trace_id, []).append(span)
                news[span.trace_id] = time.monotonic()
            if entries:
                last = entries[-1][0]
        for trace in spans.group(span for members in pending.values() for span in members):
            quiet = time.monotonic() - news[trace.trace_id] > INCOMPLETE_AFTER_SECONDS
            if trace.complete or quiet:
                del pending[trace.trace_id], news[trace.trace_id]
                if _wanted(trace, options):
                    yield trace


def summary(trace: spans.Trace) -> dict[str, Any]:
    """One trace as `traces --format json` prints it."""
    root = trace.root
    return {"TraceId": trace.trace_id, "Start": trace.start, "Root": root.label, "RootAgent": root.agent,
            "Agents": list(trace.agents), "Spans": len(trace.spans), "DurationMs": round(trace.duration_ms, 2),
            "Failed": trace.failed, "Error": next((span.error for span in trace.spans if span.error), None)}


def detail(trace: spans.Trace) -> dict[str, Any]:
    """One trace with its waterfall, as `trace --format json` prints it and the dashboard draws it."""
    return {**summary(trace), "Spans": [
        {"SpanId": row.span.span_id, "ParentId": row.span.parent_id, "Depth": row.depth, "Agent": row.span.agent,
         "AgentId": row.span.agent_id, "Function": row.span.function, "Label": row.span.label,
         "OffsetMs": round(row.offset_ms, 2), "DurationMs": round(row.span.duration_ms, 2),
         "Ok": row.span.ok, "Error": row.span.error} for row in waterfall(trace)]}


def _unix_time(text: str) -> float:
    from datetime import datetime, timezone

    from meshcompose.logs.logrecord import parse_time_point

    try:
        point = parse_time_point(text)
    except ValueError as error:
        raise UsageError(f"--since: {error}") from None
    return datetime.strptime(point, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def _wanted(trace: spans.Trace, options: TracesOptions) -> bool:
    return options.agent is None or options.agent in trace.agents


def _spans(entries: Any) -> Iterator[spans.Span]:
    for entry_id, fields in entries or ():
        span = spans.parse(entry_id, fields)
        if span is not None:
            yield span


def _client(project: ProjectIdentity) -> redis.Redis:
    doc = state.StateStore(project.directory, project.name).read()
    url = doc.get("tracing_url") if doc else None
    if not url:
        raise TracesError(f"project '{project.name}' has no traces: its last run did not have tracing on",
                          hint="add `tracing: true` to the project file and run `mesh-compose up` again")
    import redis

    return redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2.0, socket_timeout=5.0)


def _call(client: redis.Redis, read: Any) -> Any:
    import redis

    try:
        return read()
    except redis.exceptions.ConnectionError as error:
        where = client.connection_pool.connection_kwargs
        raise TracesError(f"the project's Redis at {where.get('host')}:{where.get('port')} does not answer "
                          f"({error.__class__.__name__})",
                          hint="a Redis that mesh-compose runs lives only while the project runs: "
                               "`mesh-compose ps` shows it as mesh-redis") from None
    except redis.exceptions.RedisError as error:
        raise TracesError(f"reading the traces failed: {error}") from None
