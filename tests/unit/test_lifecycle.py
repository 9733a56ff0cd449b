"""The lifecycle: the state vocabulary, its groups, and the one table of transitions."""

from __future__ import annotations

import pytest

from meshcompose.lifecycle import (
    ALIVE_STATES,
    ENDED_STATES,
    HEALTH_STATES,
    RUNNING_STATES,
    STATE_WORDS,
    SUPERVISED_STATES,
    TRANSITIONS,
    AgentState,
    IllegalTransition,
    advance,
    allowed,
    event_actions,
    unsupervised,
)


def test_words_read_back_from_a_file_are_found_in_the_groups():
    assert "exited" in ENDED_STATES and "running" not in ENDED_STATES
    assert {"running", "healthy", "unhealthy"} == {word for word in STATE_WORDS if word in RUNNING_STATES}
    assert AgentState.parse("healthy") is AgentState.HEALTHY
    assert AgentState.parse("no such state") is None and AgentState.parse(None) is None


def test_every_state_is_either_supervised_ended_or_orphaned():
    assert SUPERVISED_STATES | ENDED_STATES | {AgentState.ORPHANED} == set(AgentState)
    assert not SUPERVISED_STATES & ENDED_STATES


@pytest.mark.parametrize("group", [RUNNING_STATES, HEALTH_STATES])
def test_up_states_are_alive_and_supervised(group):
    assert group <= ALIVE_STATES and group <= SUPERVISED_STATES


def test_health_states_are_running_ones_and_ended_ones_are_not_alive():
    assert HEALTH_STATES <= RUNNING_STATES
    assert not ENDED_STATES & ALIVE_STATES
    assert all(state.ended == (state in ENDED_STATES) for state in AgentState)


def test_every_state_has_a_row_in_the_table():
    assert set(TRANSITIONS) == set(AgentState)
    assert all(targets <= set(AgentState) for targets in TRANSITIONS.values())


@pytest.mark.parametrize("before, after", [
    (AgentState.WAITING, AgentState.RUNNING),  # never without a spawn
    (AgentState.WAITING, AgentState.HEALTHY),
    (AgentState.SKIPPED, AgentState.RUNNING),  # a new run waits first
    (AgentState.EXITED, AgentState.STARTING),
    (AgentState.STOPPING, AgentState.HEALTHY),  # a late probe during a stop
    (AgentState.RESTARTING, AgentState.RUNNING),
    (AgentState.STARTING, AgentState.STOPPING),  # a stop waits out a spawn in flight
    (AgentState.RUNNING, AgentState.ORPHANED),  # only `ps` says orphaned
    (AgentState.RUNNING, AgentState.WAITING),
])
def test_an_illegal_transition_raises_with_its_facts(before, after):
    assert not allowed(before, after)
    with pytest.raises(IllegalTransition) as caught:
        advance("api", before, after)
    assert (caught.value.agent, caught.value.before, caught.value.after) == ("api", before, after)
    assert f"agent 'api': {before.value} -> {after.value} is not a lifecycle transition" in str(caught.value)


@pytest.mark.parametrize("path", [
    ["waiting", "starting", "running", "healthy", "unhealthy", "stopping", "exited"],
    ["waiting", "starting", "running", "restarting", "starting", "running", "failed"],
    ["waiting", "skipped", "waiting", "exited"],
    ["waiting", "starting", "failed", "waiting"],
    ["waiting", "starting", "running", "stopping", "restarting", "exited"],  # a limit stop, then a stop
])
def test_the_runner_paths_are_legal(path):
    states = [AgentState(word) for word in path]
    for before, after in zip(states, states[1:]):
        assert advance("a", before, after) is after


def test_the_same_state_again_is_an_update_not_a_transition():
    assert all(allowed(state, state) for state in AgentState)


def test_the_runner_refuses_an_illegal_change():
    """Every change goes through `AgentRunner._set`, which asks the table."""
    from pathlib import Path
    from types import SimpleNamespace

    from meshcompose.model import Agent, RunKind
    from meshcompose.plan.launch import LaunchSpec
    from meshcompose.runtime.runner import AgentRunner

    context = SimpleNamespace(observer=SimpleNamespace(agent_status=lambda status: None),
                              system=SimpleNamespace(processes=None, clock=None))
    runner = AgentRunner(Agent("api", RunKind.COMMAND, command=("x",)), LaunchSpec(("x",), Path("/"), {}),
                         context)  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        runner._set(state=AgentState.HEALTHY)  # waiting -> healthy
    assert runner.status.state is AgentState.WAITING


def test_unsupervised_records_are_orphaned_or_ended():
    assert unsupervised("running", alive=True) == "orphaned"
    assert unsupervised("running", alive=False) == "exited"
    assert unsupervised("failed", alive=False) == "failed"


@pytest.mark.parametrize("before, after, actions", [
    (None, AgentState.RUNNING, ["start"]),
    (AgentState.HEALTHY, AgentState.RUNNING, []),
    (AgentState.RUNNING, AgentState.HEALTHY, ["health_status: healthy"]),
    (AgentState.RUNNING, AgentState.RESTARTING, ["die", "restart"]),
    (AgentState.STOPPING, AgentState.EXITED, ["die"]),
    (AgentState.WAITING, AgentState.WAITING, []),
])
def test_event_actions(before, after, actions):
    assert event_actions(before, after) == actions
