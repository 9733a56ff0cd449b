"""Replicas: the file's counts, one model agent per process, and what a
name given on the command line means. Projects are loaded from files
written into tmp_path, as `up` loads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshcompose.app.scale import Scaled, _plan, parse_counts
from meshcompose.config import loader
from meshcompose.errors import ConfigError, UnknownAgentError
from meshcompose.model import Condition, DependsOn, Project
from meshcompose.names import agent_of, members, replica_name, replica_number
from meshcompose.plan import launch, planner, replicas
from meshcompose.plan.replicas import ScaleError


def load(tmp_path: Path, agents: dict[str, Any]) -> Project:
    for spec in agents.values():
        spec.setdefault("command", ["sleep", "1"])
    (tmp_path / "mesh-compose.yaml").write_text(yaml.safe_dump({"name": "p", "agents": agents}))
    return loader.load_project([tmp_path / "mesh-compose.yaml"], environ={})


def problems(tmp_path: Path, agents: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, agents)
    return [str(problem) for problem in caught.value.problems]


API = {"replicas": 3, "increment_var": "PORT", "environment": {"PORT": 9100},
       "healthcheck": {"http": "http://127.0.0.1:$${PORT}/health"}}


# -- the file --------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "count"), [
    ({}, 1), ({"replicas": 3}, 3), ({"deploy": {"replicas": 2}}, 2), ({"replicas": 0}, 0),
    ({"replicas": "4"}, 4),
])
def test_the_count_is_replicas_or_deploy_replicas(tmp_path: Path, spec: dict, count: int):
    assert load(tmp_path, {"api": spec}).agents["api"].replicas == count


@pytest.mark.parametrize(("spec", "said"), [
    ({"replicas": -1}, "replicas"),
    ({"replicas": "three"}, "replicas"),
    ({"replicas": 2.5}, "replicas"),
    ({"deploy": {"replicas": -2}}, "deploy.replicas"),
    ({"replicas": 2, "deploy": {"replicas": 2}}, "set twice"),
    ({"replicas": 5000}, "between 0 and 1000"),
])
def test_a_bad_count_is_a_located_error(tmp_path: Path, spec: dict, said: str):
    found = problems(tmp_path, {"api": spec})
    assert any("mesh-compose.yaml:" in text and said in text for text in found), found


def test_increment_var_needs_a_whole_number_to_start_from(tmp_path: Path):
    found = problems(tmp_path, {"api": {"replicas": 2, "increment_var": "PORT", "environment": {"PORT": "x"}}})
    assert any("increment_var PORT" in text and "whole number" in text for text in found), found
    found = problems(tmp_path, {"api": {"replicas": 2, "increment_var": ["PORT"]}})
    assert any("is not set" in text for text in found), found


def test_replicas_sharing_a_fixed_port_are_refused_with_the_reason(tmp_path: Path):
    found = problems(tmp_path, {"api": {"replicas": 2, "environment": {"MCP_MESH_HTTP_PORT": 9000}}})
    assert any("would all listen on port 9000" in text and "increment_var" in text for text in found), found
    found = problems(tmp_path, {"api": {"replicas": 2, "healthcheck": {"tcp": "127.0.0.1:9000"}}})
    assert any("would all be probed at 127.0.0.1:9000" in text for text in found), found


def test_one_replica_may_keep_a_fixed_port(tmp_path: Path):
    project = load(tmp_path, {"api": {"environment": {"MCP_MESH_HTTP_PORT": 9000},
                                      "healthcheck": {"tcp": "127.0.0.1:9000"}}})
    assert project.agents["api"].replicas == 1


def test_a_healthcheck_variable_must_be_the_agents_own(tmp_path: Path):
    found = problems(tmp_path, {"api": {"healthcheck": {"tcp": "127.0.0.1:$${NOPE}"}}})
    assert any("${NOPE}" in text for text in found), found


# -- one agent per process --------------------------------------------------------


def test_each_replica_has_its_name_number_port_and_probe(tmp_path: Path):
    expanded = replicas.expand(load(tmp_path, {"api": dict(API)}))
    assert list(expanded.agents) == ["api-1", "api-2", "api-3"]
    for number in (1, 2, 3):
        agent = expanded.agents[f"api-{number}"]
        port = str(9099 + number)
        assert (agent.replica_of, agent.replica, agent.environment["PORT"]) == ("api", number, port)
        assert agent.healthcheck is not None and agent.healthcheck.target == f"http://127.0.0.1:{port}/health"
        env = launch.agent_environment(expanded, agent, {})
        assert (env["MESH_COMPOSE_REPLICA"], env["MESH_COMPOSE_AGENT"]) == (str(number), f"api-{number}")


def test_a_single_agent_keeps_its_plain_name_and_model(tmp_path: Path):
    project = load(tmp_path, {"api": {}, "web": {"depends_on": ["api"]}})
    assert replicas.expand(project) is project
    assert launch.agent_environment(project, project.agents["api"], {})["MESH_COMPOSE_REPLICA"] == "1"


def test_a_dependency_on_a_replicated_agent_is_one_on_every_replica(tmp_path: Path):
    project = replicas.expand(load(tmp_path, {
        "api": {"replicas": 3}, "web": {"depends_on": {"api": {"condition": "healthy"}}}}))
    assert project.agents["web"].depends_on == tuple(DependsOn(f"api-{n}", Condition.HEALTHY) for n in (1, 2, 3))
    assert planner.start_order(project)[-1] == ["web"]


def test_replicas_zero_is_defined_but_not_run(tmp_path: Path):
    project = load(tmp_path, {"api": {"replicas": 0}, "web": {"depends_on": ["api"]}})
    expanded = replicas.expand(project)
    assert list(expanded.agents) == ["web"] and expanded.agents["web"].depends_on == ()
    with pytest.raises(ScaleError, match="replicas: 0"):
        replicas.resolve(project, expanded, ["api"])
    assert list(replicas.expand(project, {"api": 2}).agents) == ["api-1", "api-2", "web"]


def test_a_replica_name_taken_by_another_agent_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="api-2"):
        replicas.expand(load(tmp_path, {"api": {"replicas": 2}, "api-2": {}}))


def test_scale_of_an_unknown_agent_or_a_negative_count_is_refused(tmp_path: Path):
    project = load(tmp_path, {"api": {}})
    with pytest.raises(ScaleError, match="--scale apx=2: no agent named 'apx'") as caught:
        replicas.expand(project, {"apx": 2})
    assert "did you mean 'api'" in str(caught.value.hint)
    with pytest.raises(ScaleError, match="0 or more"):
        replicas.expand(project, {"api": -1})


def test_a_name_means_the_agent_or_one_replica(tmp_path: Path):
    project = load(tmp_path, {"api": {"replicas": 3}, "web": {}})
    expanded = replicas.expand(project)
    assert replicas.resolve(project, expanded, ["api", "web"]) == ["api-1", "api-2", "api-3", "web"]
    assert replicas.resolve(project, expanded, ["api-2"]) == ["api-2"]
    with pytest.raises(UnknownAgentError):
        replicas.resolve(project, expanded, ["api-9"])


# -- names -------------------------------------------------------------------------


def test_the_naming_rule():
    assert [replica_name("api", n, 3) for n in (1, 3)] == ["api-1", "api-3"] and replica_name("api", 1, 1) == "api"
    assert (replica_number("api", "api"), replica_number("api-12", "api")) == (1, 12)
    assert replica_number("api-01", "api") is None and replica_number("apiary", "api") is None
    known = ["api-10", "api-2", "api-1", "web", "api-x"]
    assert members("api", known) == ["api-1", "api-2", "api-10"] and members("web", known) == ["web"]
    assert members("nope", known) == [] and agent_of("api-2", {"api": 1, "web": 2}) == "api"


# -- scale ---------------------------------------------------------------------------


@pytest.mark.parametrize(("texts", "said"), [
    (["api"], "expected AGENT=N"), (["=3"], "expected AGENT=N"), (["api=-1"], "0 or more"),
    (["api=two"], "whole number"),
])
def test_a_bad_scale_argument_is_named(texts: list, said: str):
    with pytest.raises(ScaleError, match=said):
        parse_counts(texts)


def test_parse_counts():
    assert parse_counts(["api=3", "web=0"]) == {"api": 3, "web": 0}


def test_scaling_stops_the_highest_numbers_and_adds_the_missing(tmp_path: Path):
    project = load(tmp_path, {"api": {"replicas": 3}})
    known = ["api-1", "api-2", "api-3", "api-4", "api-5"]
    assert _plan(project, "api", 2, known, known) == Scaled("api", 5, 2, (), ("api-5", "api-4", "api-3"))
    assert _plan(project, "api", 4, known, ["api-1", "api-2"]) == Scaled("api", 2, 4, ("api-3", "api-4"))
    # One process under its plain name stays replica 1: it is not renamed (restarted).
    assert _plan(project, "api", 3, ["api"], ["api"]) == Scaled("api", 1, 3, ("api-2", "api-3"))


def test_scaling_onto_a_fixed_port_is_refused_with_the_reason(tmp_path: Path):
    project = load(tmp_path, {"api": {"environment": {"MCP_MESH_HTTP_PORT": 9000}}})
    with pytest.raises(ScaleError, match="--scale api=2: the 2 replicas would all listen on port 9000"):
        replicas.expand(project, {"api": 2})


def test_a_count_in_other_digits_is_refused():
    with pytest.raises(ScaleError, match="whole number"):
        parse_counts(["api=²"])
