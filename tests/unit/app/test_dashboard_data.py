"""What the dashboard sends: agent text made harmless, the graph's layout by
dependency level, and the door's decisions (unit-level; the real server is
tested over HTTP and in a browser)."""

from __future__ import annotations

import json

import pytest

from meshcompose.app.dashboard import EventTail, layout, plain_text
from meshcompose.app.timeline import DeclaredEdge


def test_plain_text_replaces_every_control_character_but_tab() -> None:
    text = "\x1b]0;title\x07\x1b[31mred\x1b[0m\tnext\x9b2J\x00\x7f<b>"
    shown = plain_text(text)
    assert not any(ord(ch) < 32 and ch != "\t" or 0x7F <= ord(ch) <= 0x9F for ch in shown)
    assert shown == "^[]0;title^Gred\tnext<9b>2J^@^?<b>"  # visible, and text stays text


def test_layout_places_agents_by_dependency_level() -> None:
    edges = [DeclaredEdge("db", "api", "healthy"), DeclaredEdge("api", "web", "started"),
             DeclaredEdge("db", "worker", "")]
    view = layout(["web", "api", "db", "worker", "lonely"], edges)
    levels = {node.name: node.level for node in view.nodes}
    assert levels == {"db": 0, "lonely": 0, "api": 1, "worker": 1, "web": 2}
    assert [(edge.dependency, edge.dependent, edge.label, edge.kind) for edge in view.edges] == [
        ("db", "api", "healthy", "declared"), ("api", "web", "started", "declared"), ("db", "worker", "?", "declared")]
    assert view.levels == 3


def test_a_cycle_is_shown_flat_not_refused() -> None:
    view = layout(["a", "b"], [DeclaredEdge("a", "b", "started"), DeclaredEdge("b", "a", "started")])
    assert {node.level for node in view.nodes} == {0}


def test_the_event_tail_reads_only_what_is_new_and_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "events.jsonl"
    old = {"time": "2026-01-01T00:00:00.000000Z", "service": "a", "action": "start", "attributes": {"pid": 1}}
    path.write_text(json.dumps(old) + "\n")
    tail = EventTail(path)
    assert tail.poll() == []
    new = {"time": "2026-01-01T00:00:01.000000Z", "service": "a\x1b[2J", "action": "die",
           "attributes": {"name": "a", "exitCode": 3}}
    line = json.dumps(new) + "\n"
    with open(path, "a") as handle:
        handle.write(line[:10])
    assert tail.poll() == []  # half a line waits for its end
    with open(path, "a") as handle:
        handle.write(line[10:] + "not json\n")
    assert tail.poll() == [{"time": new["time"], "agent": "a^[[2J", "action": "die",
                            "details": "exitCode=3"}]


@pytest.mark.parametrize(("headers", "query", "method", "status"), [
    ({}, b"", "GET", 403),  # no Host: refused before the token is looked at
    ({b"host": b"127.0.0.1:9"}, b"", "GET", 401),
    ({b"host": b"127.0.0.1:9"}, b"token=wrong", "GET", 403),
    ({b"host": b"evil.example:9"}, b"token=T0KEN", "GET", 403),
    ({b"host": b"127.0.0.1:9"}, b"token=T0KEN", "GET", None),
    ({b"host": b"localhost:9"}, b"token=T0KEN", "GET", None),
    ({b"host": b"127.0.0.1:9"}, b"token=T0KEN&token=T0KEN", "GET", 403),
    ({b"host": b"127.0.0.1:9", b"x-mesh-compose-token": b"T0KEN"}, b"", "POST", 403),
    ({b"host": b"127.0.0.1:9", b"x-mesh-compose-token": b"T0KEN", b"origin": b"http://evil.example"}, b"", "POST", 403),
    ({b"host": b"127.0.0.1:9", b"x-mesh-compose-token": b"T0KEN", b"origin": b"http://127.0.0.1:9"}, b"", "POST", None),
    ({b"host": b"127.0.0.1:9", b"x-mesh-compose-token": b"T0KEN", b"origin": b"http://localhost:9"}, b"", "POST", 403),
])
def test_the_guard_decides(headers: dict[bytes, bytes], query: bytes, method: str, status: int | None) -> None:
    guard = pytest.importorskip("meshcompose.dashboard.guard")
    door = guard.Guard(lambda *args: None, "T0KEN", 9)
    scope = {"type": "http", "method": method, "headers": list(headers.items()), "query_string": query}
    assert door.refusal(scope) == status


def test_a_damaged_state_file_is_said_on_the_page_not_a_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from meshcompose.app.dashboard import DashboardSource
    from meshcompose.app.project import ProjectIdentity
    from meshcompose.control import paths

    identity = ProjectIdentity(tmp_path, "p")
    document = paths.state_file(tmp_path, "p")
    document.parent.mkdir(parents=True, mode=0o700)
    document.parent.parent.chmod(0o700)
    document.write_text("{not json")
    document.chmod(0o600)
    source = DashboardSource(identity)
    snapshot = source.snapshot()
    assert snapshot["rows"] == []
    assert snapshot["error"] or snapshot["supervisor"] == "never ran"
    json.dumps(snapshot)  # what the page gets is plain JSON
    assert not source.graph()["nodes"]  # and the rest of the stream carries on
    assert source.events()[0] == []
