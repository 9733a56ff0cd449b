"""The planner on projects built directly from the model (no config loader)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Union

import pytest

from meshcompose.errors import CycleError, UnknownAgentError, UnknownDependencyError
from meshcompose.model import Agent, Condition, DependsOn, Project, RunKind
from meshcompose.plan import planner

Deps = dict[str, Union[list, dict]]


def project(spec: Deps) -> Project:
    """{"web": ["db"], "db": [], "api": {"db": ("healthy", False)}} -> Project."""
    agents = {}
    for name, deps in spec.items():
        if isinstance(deps, dict):
            depends = tuple(DependsOn(dep, Condition(cond), req) for dep, (cond, req) in deps.items())
        else:
            depends = tuple(DependsOn(dep) for dep in deps)
        agents[name] = Agent(name=name, run=RunKind.SCRIPT, target=f"/p/{name}.py", depends_on=depends)
    return Project(name="p", directory=Path("/p"), files=(Path("/p/mesh-compose.yaml"),), agents=agents)


MESH = {
    "registry": [],
    "web": {"weather": ("healthy", True), "news": ("started", True)},
    "weather": {"registry": ("registered", True)},
    "news": {"registry": ("registered", True), "cache": ("started", False)},
    "cache": [],
    "lonely": [],
}


def test_graph_edges_point_from_dependency_to_dependent_with_their_condition() -> None:
    graph = planner.build_graph(project(MESH))
    assert list(graph.nodes) == list(MESH)
    assert graph.edges["weather", "web"] == {"condition": Condition.HEALTHY, "required": True}
    assert graph.edges["cache", "news"] == {"condition": Condition.STARTED, "required": False}
    assert not graph.has_edge("web", "weather")


@pytest.mark.parametrize(
    "spec, waves",
    [
        ({}, []),
        ({"a": []}, [["a"]]),
        ({"b": [], "a": []}, [["b", "a"]]),  # independent agents together, in file order
        ({"a": ["b"], "b": ["c"], "c": []}, [["c"], ["b"], ["a"]]),
        ({"top": ["l", "r"], "l": ["base"], "r": ["base"], "base": []}, [["base"], ["l", "r"], ["top"]]),
        (MESH, [["registry", "cache", "lonely"], ["weather", "news"], ["web"]]),
    ],
)
def test_start_order_puts_dependencies_first_and_independents_together(spec: Deps, waves: list) -> None:
    assert planner.start_order(project(spec)) == waves


def depends_on(p: Project) -> dict[str, list]:
    return {agent.name: [dep.name for dep in agent.depends_on] for agent in p.agents.values()}


def test_nothing_stops_before_its_dependents() -> None:
    p = project(MESH)
    before = planner.stop_before(depends_on(p))
    stop = [n for wave in planner.stop_waves(depends_on(p)) for n in wave]
    for agent in p.agents.values():
        for dep in agent.depends_on:
            assert agent.name in before[dep.name]
            assert stop.index(agent.name) < stop.index(dep.name)


def test_stop_waves_are_a_stop_order_for_the_whole_mesh_and_unrelated_agents_stop_at_once() -> None:
    waves = planner.stop_waves(depends_on(project(MESH)))
    assert waves == [["web", "lonely"], ["weather", "news"], ["registry", "cache"]]  # news: cache (optional)


@pytest.mark.parametrize("graph, waves", [
    ({"a": [], "b": ["a"], "c": ["b"]}, [["c"], ["b"], ["a"]]),
    ({"db": [], "api": ["db"], "web": ["api"], "worker": ["db"], "loner": []},
     [["web", "worker", "loner"], ["api"], ["db"]]),
    ({"a": ["gone"], "b": ["a", "a"]}, [["b"], ["a"]]),  # outside the set, and repeated
    ({"self": ["self"]}, [["self"]]),
    ({}, []),
])
def test_stop_waves_put_dependents_first(graph: Deps, waves: list) -> None:
    assert planner.stop_waves(graph) == waves


@pytest.mark.parametrize("graph, before", [
    ({"a": ["b"], "b": ["a"], "c": ["a"]}, {"a": {"c"}, "b": {"c"}, "c": set()}),
    ({"a": ["b", "d"], "b": ["a"], "d": []}, {"a": set(), "b": set(), "d": {"a"}}),
    ({"x": ["y"], "y": ["z"], "z": ["x"], "top": ["y"], "base": []}, {"x": {"top"}, "y": {"top"}, "z": {"top"},
                                                                      "top": set(), "base": set()}),
])
def test_a_cycle_in_a_hand_edited_state_file_stops_together_and_never_blocks(graph: Deps, before: dict) -> None:
    assert planner.stop_before(graph) == before
    assert sum(len(wave) for wave in planner.stop_waves(graph)) == len(graph)


def test_a_partial_stop_orders_only_the_chosen_agents() -> None:
    p = project(MESH)
    chosen = {name: deps for name, deps in depends_on(p).items() if name in ("web", "registry", "news")}
    assert planner.stop_before(chosen) == {"registry": {"news"}, "news": {"web"}, "web": set()}


@pytest.mark.parametrize(
    "names, with_deps, selected",
    [
        ([], True, ["registry", "cache", "lonely", "weather", "news", "web"]),
        (["web"], True, ["registry", "cache", "weather", "news", "web"]),
        (["news"], True, ["registry", "cache", "news"]),  # optional dependencies still start when present
        (["web", "lonely"], True, ["registry", "cache", "lonely", "weather", "news", "web"]),
        (["web"], False, ["web"]),
        (["web", "weather"], False, ["weather", "web"]),  # start order, not argument order
        (["cache"], True, ["cache"]),
    ],
)
def test_select_adds_transitive_dependencies_in_start_order(names: list, with_deps: bool, selected: list) -> None:
    assert planner.select(project(MESH), names, with_deps=with_deps) == selected


def test_start_order_of_a_selection_treats_unselected_dependencies_as_satisfied() -> None:
    assert planner.start_order(project(MESH), ["web", "news"]) == [["news"], ["web"]]


def test_select_of_an_unknown_agent_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownAgentError) as caught:
        planner.select(project(MESH), ["wether"])
    assert caught.value.message == "no agent named 'wether' in the project"
    assert caught.value.hint == "did you mean 'weather'?"


def test_dependents_are_direct_and_transitive_in_start_order() -> None:
    p = project(MESH)
    assert planner.dependents(p, "registry") == ["weather", "news", "web"]
    assert planner.dependents(p, "cache") == ["news", "web"]
    assert planner.dependents(p, "web") == []
    with pytest.raises(UnknownAgentError):
        planner.dependents(p, "nope")


def test_unknown_required_dependency_is_an_error_with_a_suggestion() -> None:
    p = project({"registry": [], "web": ["registy"], "api": ["zzz"]})
    with pytest.raises(UnknownDependencyError) as caught:
        planner.check(p)
    text = caught.value.message
    assert "agents.web.depends_on: unknown agent 'registy' in depends_on; did you mean 'registry'?" in text
    assert "agents.api.depends_on: unknown agent 'zzz' in depends_on (agents: registry, web, api)" in text
    assert text.startswith("2 problems in the project:")
    assert caught.value.exit_code == 3


def test_unknown_optional_dependency_is_skipped() -> None:
    p = project({"web": {"metrics": ("started", False)}})
    planner.check(p)
    assert planner.start_order(p) == [["web"]]


@pytest.mark.parametrize(
    "spec, chain",
    [
        ({"a": ["a"]}, "a -> a"),
        ({"a": ["b"], "b": ["a"]}, "a -> b -> a"),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, "a -> b -> c -> a"),
        ({"c": ["a"], "a": ["b"], "b": ["c"]}, "c -> a -> b -> c"),  # starts at the first agent in the file
        ({"ok": [], "x": ["ok", "y"], "y": ["z"], "z": ["y"]}, "y -> z -> y"),
    ],
)
def test_cycle_error_prints_the_whole_cycle_in_depends_on_direction(spec: Deps, chain: str) -> None:
    with pytest.raises(CycleError) as caught:
        planner.check(project(spec))
    assert caught.value.message == f"dependency cycle: {chain}"
    assert caught.value.hint


def test_every_cycle_is_reported_once_each_from_its_first_agent() -> None:
    spec: Deps = {"ok": [], "a": ["b"], "b": ["a"], "x": ["ok", "c"], "c": ["d", "c"], "d": ["c"], "e": ["e"]}
    with pytest.raises(CycleError) as caught:
        planner.check(project(spec))
    assert caught.value.cycles == [["a", "b"], ["c", "d"], ["e"]]
    assert [p.message for p in caught.value.problems] == [
        "dependency cycle: a -> b -> a", "dependency cycle: c -> d -> c", "dependency cycle: e -> e"]


def test_every_ordering_function_refuses_a_cycle() -> None:
    p = project({"a": ["b"], "b": ["a"], "c": []})
    for call in (planner.start_order, lambda q: planner.select(q, ["c"])):
        with pytest.raises(CycleError):
            call(p)


def test_the_start_order_reports_a_cycle_it_meets_through_the_one_check(monkeypatch) -> None:
    """Even past `check` (a memo gone wrong), ordering never loops on a cycle,
    and says which cycle as `check` says it."""
    monkeypatch.setattr(planner, "check", lambda project: None)
    with pytest.raises(CycleError) as caught:
        planner.start_order(project({"ok": [], "a": ["ok", "b"], "b": ["a"]}))
    assert caught.value.cycles == [["a", "b"]]


def test_order_is_deterministic_for_a_wide_graph() -> None:
    spec: Deps = {f"a{i:02d}": ["hub"] for i in range(30)}
    spec["hub"] = []
    waves = planner.start_order(project(spec))
    assert waves == [["hub"], [f"a{i:02d}" for i in range(30)]]


def test_importing_the_cli_does_not_import_networkx() -> None:
    code = "import sys, meshcompose.cli.main as m; [m.build_parser(c) for c, _, _ in m.COMMANDS]; print('networkx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_long_dependency_chain_is_checked_and_ordered_in_linear_time(tmp_path, monkeypatch) -> None:
    """1,000 agents in a chain took 8 s when every agent started its own cycle search."""
    import time

    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path))  # nothing remembered: compute
    spec: Deps = {"a0": [], **{f"a{i}": [f"a{i - 1}"] for i in range(1, 1000)}}
    started = time.perf_counter()
    planner.check(project(spec))
    assert len(planner.start_order(project(spec))) == 1000
    assert time.perf_counter() - started < 2.0  # generous: linear takes ~0.1 s, quadratic ~8 s
    spec["a0"] = ["a999"]
    with pytest.raises(CycleError) as caught:
        planner.check(project(spec))
    assert caught.value.cycle[:3] == ["a0", "a999", "a998"] and len(caught.value.cycle) == 1000


CHECK_IN_A_FRESH_INTERPRETER = """
import sys
sys.path.insert(0, sys.argv[1])
from test_planner import project
from meshcompose.errors import CycleError
from meshcompose.plan import planner
spec = {"db": [], "api": ["db"], "web": ["api", "db"]}
if sys.argv[2] == "cycle":
    spec["db"] = ["web"]
try:
    planner.check(project(spec))
except CycleError as error:
    print(error)
print("networkx" in sys.modules)
"""


@pytest.mark.parametrize("kind, expected", [("valid", "False"), ("cycle", "db -> web -> api -> db\nTrue")])
def test_checking_a_valid_project_does_not_import_networkx(tmp_path: Path, kind: str, expected: str):
    """graphlib says there is no cycle; networkx is imported only to find and word one."""
    env_cache = {"MESH_COMPOSE_CACHE_DIR": str(tmp_path / "cache")}  # no remembered answer
    result = subprocess.run([sys.executable, "-c", CHECK_IN_A_FRESH_INTERPRETER, str(Path(__file__).parent), kind],
                            capture_output=True, text=True, check=True, env={**os.environ, **env_cache})
    assert result.stdout.strip().endswith(expected), result.stdout


SELECT_IN_A_FRESH_INTERPRETER = """
import sys
sys.path.insert(0, sys.argv[1])
from test_planner import project
from meshcompose.plan import planner
spec = {"db": [], "cache": [], "api": ["db"], "web": ["api", "cache"], "docs": []}
print(planner.select(project(spec), sys.argv[2:]))
print(planner.start_order(project(spec), ["web", "db"]))
print("networkx" in sys.modules)
"""


@pytest.mark.parametrize("names, expected", [
    ([], "['db', 'cache', 'docs', 'api', 'web']"),
    (["web"], "['db', 'cache', 'api', 'web']"),
    (["api", "docs"], "['db', 'docs', 'api']"),
])
def test_selecting_agents_of_a_valid_project_does_not_import_networkx(tmp_path: Path, names: list[str],
                                                                        expected: str) -> None:
    """A cold `up` plans its start order with the standard library; networkx costs ~0.3 s to import."""
    env_cache = {"MESH_COMPOSE_CACHE_DIR": str(tmp_path / "cache")}  # no remembered answer
    result = subprocess.run([sys.executable, "-c", SELECT_IN_A_FRESH_INTERPRETER, str(Path(__file__).parent),
                             *names], capture_output=True, text=True, check=True, env={**os.environ, **env_cache})
    assert result.stdout.splitlines() == [expected, "[['db', 'web']]", "False"], result.stdout
