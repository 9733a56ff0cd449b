"""model.AgentState and its groups: the one state vocabulary."""

from __future__ import annotations

import pytest

from meshcompose.model import (
    ALIVE_STATES,
    ENDED_STATES,
    HEALTH_STATES,
    RUNNING_STATES,
    STATE_WORDS,
    SUPERVISED_STATES,
    AgentState,
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
