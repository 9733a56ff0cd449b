"""The declared-vs-resolved rules and the `mesh` rendering, from answers recorded
from the real registry 3.7.1 and SDK agents (tests/mesh/three: hello offers
greeting, ping and failing; clock offers time and ping and declares hello;
greeter declares hello and asks for greeting, time, weather and ping).

- three_starting.json: all three just registered, nothing resolved yet;
- three_wired.json: a heartbeat later, greeter resolved greeting from hello,
  time and ping from clock; nobody offers weather;
- three_clock_stopped.json: clock stopped (deregistered: listed unhealthy);
  ping moved to hello at once, time turned unresolved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshcompose.app.mesh import MeshReport, as_data
from meshcompose.cli.commands.mesh import render, text
from meshcompose.mesh import facts
from meshcompose.mesh.facts import Declared, ProjectAgent
from meshcompose.mesh.registry_client import parse_snapshot, parse_time

ANSWERS = Path(__file__).parent / "registry_answers"


def snapshot(name: str):
    body = json.loads((ANSWERS / name).read_text())
    taken = parse_snapshot(body, parse_time(body["timestamp"]))
    assert taken is not None
    return taken, parse_time(body["timestamp"])


def project(started: float) -> list[ProjectAgent]:
    return [
        ProjectAgent("hello", "three-hello", (), started),
        ProjectAgent("clock", "three-clock", (Declared("hello", "registered"),), started),
        ProjectAgent("greeter", "three-greeter", (Declared("hello", "registered"),), started),
    ]


def wired(now_offset: float = 60.0):
    taken, now = snapshot("three_wired.json")
    return facts.view(project(now - now_offset), taken, now)


def kinds(found) -> set[tuple[str, str, str]]:
    return {(f.kind, f.agent, f.capability) for f in found.findings}


def test_each_dependency_names_its_provider_endpoint_and_whether_declared():
    greeter = {a.name: a for a in wired().agents}["greeter"]
    by_capability = {d.capability: d for d in greeter.dependencies}
    assert greeter.status == "healthy" and greeter.current
    assert (greeter.resolved, len(greeter.dependencies)) == (3, 4)
    assert by_capability["greeting"].provider == "hello" and by_capability["greeting"].declared is True
    assert by_capability["greeting"].endpoint.startswith("http://127.0.0.1:")
    assert by_capability["greeting"].tool == "hello"
    assert by_capability["time"].provider == "clock" and by_capability["time"].declared is False
    assert not by_capability["weather"].resolved and by_capability["weather"].declared is None


def test_the_four_differences_are_found():
    found = kinds(wired())
    assert ("undeclared-provider", "greeter", "time") in found
    assert ("undeclared-provider", "greeter", "ping") in found
    assert ("unused-dependency", "clock", "") in found  # clock waits for hello but uses nothing of it
    assert ("several-providers", "clock", "ping") in found
    assert ("unresolved", "greeter", "weather") in found
    assert ("undeclared-provider", "greeter", "greeting") not in found
    assert ("unused-dependency", "greeter", "") not in found  # greeter does use hello


def test_the_registry_choice_among_several_providers_is_said():
    several = next(f for f in wired().findings if f.kind == "several-providers")
    assert several.providers == ("clock", "hello")
    assert several.chosen == (("greeter", "clock"),)
    assert "the registry chose clock for greeter" in several.text


def test_an_unresolved_dependency_is_not_flagged_before_two_heartbeats():
    assert ("unresolved", "greeter", "weather") not in kinds(wired(now_offset=3.0))


def test_a_fresh_mesh_flags_nothing_yet_it_will_resolve():
    taken, now = snapshot("three_starting.json")
    found = facts.view(project(now - 3), taken, now)
    assert all(not d.resolved for a in found.agents for d in a.dependencies)
    # greeter will resolve greeting from hello: its declared dependency is not "unused"
    assert ("unused-dependency", "greeter", "") not in kinds(found)


def test_a_stopped_provider_is_replaced_and_its_capability_turns_unresolved():
    taken, now = snapshot("three_clock_stopped.json")
    found = facts.view(project(now - 60), taken, now)
    agents = {a.name: a for a in found.agents}
    assert agents["clock"].status == "unhealthy"
    deps = {d.capability: d for d in agents["greeter"].dependencies}
    assert deps["ping"].provider == "hello" and deps["ping"].declared is True
    assert not deps["time"].resolved
    assert ("several-providers", "clock", "ping") not in kinds(found)  # an unhealthy agent offers nothing


def test_a_registration_from_before_the_current_process_is_not_current():
    taken, now = snapshot("three_wired.json")
    agents = facts.view([ProjectAgent("hello", "three-hello", (), now + 100)], taken, now).agents
    assert agents[0].status == "healthy" and not agents[0].current


def test_an_agent_the_registry_does_not_list_is_absent():
    taken, now = snapshot("three_wired.json")
    (agent,) = facts.view([ProjectAgent("ghost", "three-ghost", (), now)], taken, now).agents
    assert agent.status == "absent" and agent.dependencies == ()


def report(framework: bool = False) -> MeshReport:
    return MeshReport("three", "http://127.0.0.1:8000", wired(), framework)


def test_the_table_shows_each_fact():
    shown = render(report())
    assert "greeter  (three-greeter)  healthy, current process" in shown
    assert "greeting 1.2.0 [en]" in shown
    assert "hello: Greets someone by name" in shown
    assert "time → clock (three-clock) @ http://127.0.0.1:" in shown and "(not in depends_on)" in shown
    assert "weather → unresolved" in shown
    assert "(3/4 resolved)" in shown
    assert "depends_on    hello (registered)" in shown
    assert "__mesh_job_status" not in shown
    assert "__mesh_job_status" in render(report(framework=True))
    assert "declared vs resolved:" in shown


def test_the_json_carries_every_fact():
    data = as_data(report())
    greeter = next(a for a in data["agents"] if a["name"] == "greeter")
    assert greeter["resolved"] == 3 and greeter["total"] == 4 and isinstance(greeter["port"], int)
    assert {d["capability"]: d["declared"] for d in greeter["dependencies"]} == {
        "greeting": True, "time": False, "ping": False, "weather": None}
    assert greeter["declared"] == [{"provider": "hello", "condition": "registered"}]
    hello = next(a for a in data["agents"] if a["name"] == "hello")
    assert {t["name"] for t in hello["tools"]} == {"hello", "ping_hello", "fail"}
    assert {f["kind"] for f in data["findings"]} == set(facts.FINDING_KINDS)
    json.dumps(data)  # plain data


@pytest.mark.parametrize("raw, shown", [("a\x1b]0;title\x07b", "a^[]0;title^Gb"), ("x\ny", "x^Jy"),
                                         ("caf\u00e9", "caf\u00e9"), ("\x9b2J", "<9b>2J")])
def test_registry_text_is_shown_with_controls_made_visible(raw, shown):
    assert text(raw) == shown


NAMES = {"three-hello": "hello", "three-clock": "clock", "three-greeter": "greeter"}


def test_mesh_events_from_successive_reads_in_order():
    starting, _ = snapshot("three_starting.json")
    wired_, _ = snapshot("three_wired.json")
    stopped, _ = snapshot("three_clock_stopped.json")
    assert [c.text for c in facts.changes(None, starting, NAMES)] == ["registered at " + starting.agents[i].endpoint
                                                                     for i in NAMES]
    assert [(c.agent, c.text) for c in facts.changes(starting, wired_, NAMES)] == [
        ("greeter", "resolved greeting → hello"), ("greeter", "resolved time → clock"),
        ("greeter", "resolved ping → clock")]
    assert [(c.agent, c.text) for c in facts.changes(wired_, stopped, NAMES)] == [
        ("clock", "deregistered"), ("greeter", "resolved ping → hello"), ("greeter", "unresolved time")]
    assert facts.changes(stopped, stopped, NAMES) == []


def test_the_run_tells_each_event_and_each_warning_once():
    from meshcompose.model import Agent, Condition, DependsOn, RunKind
    from meshcompose.runtime.meshevents import MeshEvents

    starting, now = snapshot("three_starting.json")
    wired_, _ = snapshot("three_wired.json")
    registered = (DependsOn("hello", Condition.REGISTERED),)
    agents = {"hello": Agent("hello", RunKind.SCRIPT), "clock": Agent("clock", RunKind.SCRIPT, depends_on=registered),
              "greeter": Agent("greeter", RunKind.SCRIPT, depends_on=registered)}
    told = []

    class Observer:
        def notice(self, notice):
            told.append((notice.agent, notice.level, notice.action, notice.text))

    events = MeshEvents("three", lambda: agents, lambda name: now - 60, Observer())
    for read in (starting, wired_, wired_, wired_):
        events(read)
    actions = [(agent, action) for agent, _, action, _ in told]
    assert actions[:3] == [("hello", "registered"), ("clock", "registered"), ("greeter", "registered")]
    warnings = [text for _, level, _, text in told if level == "warning"]
    assert len(warnings) == len(set(warnings)) == 5
    assert any("greeter resolves time from clock but does not depend_on it" in text for text in warnings)


def live():
    from meshcompose.app.mesh import LiveEdge, LiveGraph

    return LiveGraph("three", {"hello": "running (healthy), mesh healthy", "greeter": "running, mesh healthy"},
                     (LiveEdge("greeter", "hello", "registered", True),),
                     (LiveEdge("greeter", "hello", "greeting", True), LiveEdge("greeter", "clock", "time, ping", False)))


def test_the_live_graph_tells_declared_and_resolved_edges_apart():
    from meshcompose.cli.commands.graphlive import render_dot, render_json, render_mermaid, render_text

    shown = render_text(live())
    assert "hello -> greeter  (registered)" in shown
    assert "clock - - > greeter  time, ping   (not declared)" in shown
    assert "greeter  running, mesh healthy" in shown
    mermaid = render_mermaid(live())
    assert 'a1 -->|"registered"| a0' not in mermaid  # provider -> dependent
    assert 'a0 -->|"registered"| a1' in mermaid and 'a2 -.->|"time, ping"| a1' in mermaid
    assert 'a2["clock<br/>outside the project"]' in mermaid
    dot = render_dot(live())
    assert '"hello" -> "greeter" [label="registered"];' in dot
    assert '"clock" -> "greeter" [label="time, ping", style=dashed, color=blue];' in dot
    edges = json.loads(render_json(live()))["edges"]
    assert {(e["kind"], e["provider"], e.get("declared")) for e in edges} == {
        ("declared", "hello", None), ("resolved", "hello", True), ("resolved", "clock", False)}


def test_the_registry_agent_name_is_the_planners():
    from meshcompose.mesh import meshplan

    assert facts.REGISTRY_AGENT == meshplan.REGISTRY_AGENT
