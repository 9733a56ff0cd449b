"""The start-up timeline and its critical chain, from recorded event histories."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from meshcompose.app.timeline import DeclaredEdge, compute, read_events, run_start

T0 = 1_800_000_000.0


def event(at: float, agent: str, action: str, **attributes: object) -> dict[str, object]:
    when = datetime.datetime.fromtimestamp(T0 + at, datetime.timezone.utc)
    return {"time": when.isoformat(timespec="microseconds").replace("+00:00", "Z"), "type": "agent",
            "action": action, "id": f"p-{agent}", "service": agent,
            "attributes": {"name": agent, "project": "p", **attributes}}


# db (healthy at 2.0) <- api (healthy) ; cache (started at 0.1) <- api (started); api <- web (started)
EDGES = [DeclaredEdge("db", "api", "healthy"), DeclaredEdge("cache", "api", "started"),
         DeclaredEdge("api", "web", "started")]
HISTORY = [
    event(0.10, "db", "start", pid=10), event(0.12, "cache", "start", pid=11),
    event(2.00, "db", "health_status: healthy", pid=10),
    event(2.05, "api", "start", pid=12), event(3.50, "api", "health_status: healthy", pid=12),
    event(2.10, "web", "start", pid=13),
]


def test_each_agent_has_its_wait_start_and_readiness() -> None:
    view = compute("p", ["db", "cache", "api", "web"], EDGES, HISTORY, T0)
    api = view.bar("api")
    assert api is not None
    assert api.started == 2.05 and api.waited_for == ("db (healthy)", "cache (started)")
    assert api.decided_by == "db"  # db's health came last, not cache's start
    assert api.ready_as == "started" and api.ready == 2.05  # web only waits for api to start
    db = view.bar("db")
    assert db is not None and db.ready_as == "healthy" and abs((db.ready or 0) - 2.0) < 1e-6


def test_the_critical_chain_walks_back_from_the_last_ready_agent() -> None:
    view = compute("p", ["db", "cache", "api", "web"], EDGES, HISTORY, T0)
    assert view.chain == ("db", "api", "web")


def test_restarts_exits_and_completion_are_on_the_bar() -> None:
    edges = [DeclaredEdge("migrate", "api", "completed_successfully")]
    history = [event(0.1, "migrate", "start"), event(1.0, "migrate", "die", exitCode=0),
               event(1.1, "api", "start"), event(2.0, "api", "die", exitCode=1), event(2.0, "api", "restart"),
               event(2.5, "api", "start")]
    view = compute("p", ["migrate", "api"], edges, history, T0)
    migrate, api = view.bar("migrate"), view.bar("api")
    assert migrate is not None and migrate.ready_as == "completed_successfully" and migrate.ready == 1.0
    assert api is not None and api.restarts == (2.0,) and api.exits == ((2.0, 1),)
    assert api.started == 1.1  # the wait ends at the first start
    assert api.runs == ((1.1, 2.0), (2.5, None))
    assert view.chain == ("migrate", "api")


def test_events_of_an_earlier_run_are_left_out() -> None:
    earlier = [event(-100.0, "db", "start"), event(-99.0, "db", "die", exitCode=0)]
    view = compute("p", ["db"], [], [*earlier, event(0.5, "db", "start")], T0)
    db = view.bar("db")
    assert db is not None and db.started == 0.5 and db.exits == ()


def test_an_agent_still_waiting_has_no_times_and_what_it_waits_for() -> None:
    view = compute("p", ["db", "api"], [DeclaredEdge("db", "api", "healthy")], [event(0.1, "db", "start")], T0)
    api, db = view.bar("api"), view.bar("db")
    assert api is not None and api.started is None and api.ready is None and api.decided_by is None
    assert api.waited_for == ("db (healthy)",)
    assert db is not None and db.started == 0.1 and db.ready is None  # started, never healthy
    assert view.chain == ()  # nothing was ready for what it was waited for


def test_skipped_agents_and_no_run() -> None:
    view = compute("p", ["a"], [], [event(0.3, "a", "skip", message="dependency failed")], T0)
    bar = view.bar("a")
    assert bar is not None and bar.skipped == 0.3
    assert compute("p", ["a"], [], [], None).run_started is None


def test_the_events_file_is_read_bounded_and_damaged_lines_are_skipped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(event(0.1, "a", "start")), "{not json", "[1, 2]", json.dumps(event(0.2, "b", "start"))]
    path.write_text("\n".join(lines) + "\n")
    assert [e["service"] for e in read_events(path)] == ["a", "b"]
    assert [e["service"] for e in read_events(path, limit=len(lines[-1]) + 1)] == ["b"]
    assert read_events(tmp_path / "missing.jsonl") == []


def test_the_run_starts_with_its_supervisor_else_its_first_event() -> None:
    assert run_start({"supervisor": {"started_at": T0}}, []) == T0
    assert run_start({"supervisor": None}, [event(1.0, "a", "start"), event(0.5, "a", "x")]) == T0 + 0.5
    assert run_start(None, []) is None


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "events"


def test_a_recorded_run_up_then_down() -> None:
    """events.jsonl of a real `up -d` then `down` of db (healthcheck) and cache <- api <- web."""
    events = read_events(FIXTURES / "four-agents-up-down.jsonl")
    edges = [DeclaredEdge("db", "api", "healthy"), DeclaredEdge("cache", "api", "started"),
             DeclaredEdge("api", "web", "started")]
    view = compute("demo", ["db", "cache", "api", "web"], edges, events, run_start(None, events))
    assert view.chain == ("db", "api", "web")
    api, db, web = view.bar("api"), view.bar("db"), view.bar("web")
    assert api is not None and db is not None and web is not None
    assert api.decided_by == "db" and db.ready is not None and api.started is not None and api.started >= db.ready
    assert web.exits and web.exits[-1][1] == 143  # stopped by `down` (SIGTERM)
    assert all(len(bar.runs) == 1 and bar.runs[0][1] is not None for bar in view.bars)  # one run each, ended
