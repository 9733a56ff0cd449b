from __future__ import annotations

import pytest

from meshcompose.lifecycle import AgentState
from meshcompose.model import Condition
from meshcompose.runtime.conditions import outcome, why_not
from meshcompose.runtime.events import AgentStatus

S = AgentState
C = Condition


def status(state, *, code=None, started=False, final=False, message=None):
    return AgentStatus("dep", state, exit_code=code, ever_started=started, final=final, message=message)


@pytest.mark.parametrize(
    "condition, dep, expected",
    [
        (C.STARTED, status(S.WAITING), None),
        (C.STARTED, status(S.STARTING), None),
        (C.STARTED, status(S.RUNNING, started=True), True),
        (C.STARTED, status(S.EXITED, code=1, started=True, final=True), True),  # it did start
        (C.STARTED, status(S.SKIPPED, final=True), False),
        (C.STARTED, status(S.FAILED, final=True), False),
        (C.HEALTHY, status(S.RUNNING, started=True), None),
        (C.HEALTHY, status(S.UNHEALTHY, started=True), False),  # as compose: reported unhealthy fails it
        (C.HEALTHY, status(S.HEALTHY, started=True), True),
        (C.HEALTHY, status(S.RESTARTING, started=True), None),
        (C.HEALTHY, status(S.EXITED, code=0, started=True, final=True), False),
        (C.COMPLETED_SUCCESSFULLY, status(S.RUNNING, started=True), None),
        (C.COMPLETED_SUCCESSFULLY, status(S.EXITED, code=0, started=True, final=True), True),
        (C.COMPLETED_SUCCESSFULLY, status(S.EXITED, code=2, started=True, final=True), False),
        (C.COMPLETED_SUCCESSFULLY, status(S.RESTARTING, code=2, started=True), None),  # a restart is pending
        (C.COMPLETED_SUCCESSFULLY, status(S.FAILED, code=2, started=True, final=True), False),
        (C.REGISTERED, status(S.RUNNING, started=True), None),
        (C.REGISTERED, status(S.EXITED, code=0, started=True, final=True), False),
    ],
)
def test_outcome(condition, dep, expected):
    assert outcome(condition, dep) is expected


def test_why_not_names_the_dependency_and_the_reason():
    assert why_not(C.COMPLETED_SUCCESSFULLY, status(S.EXITED, code=3, final=True)) == (
        "'dep' did not complete successfully: it exited with code 3"
    )
    assert why_not(C.HEALTHY, status(S.FAILED, final=True, message="gave up after 2 restart(s)")) == (
        "'dep' never became healthy: it is failed (gave up after 2 restart(s))"
    )
