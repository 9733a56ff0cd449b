"""control.handler.ControlHandler against a scripted supervisor: it turns
requests into supervisor calls and never changes the supervisor's data itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import pytest

from meshcompose.control.handler import ControlHandler
from meshcompose.model import Agent, DependsOn, Project, RunKind
from meshcompose.plan.launch import LaunchSpec


def agent(name: str, *deps: str) -> Agent:
    return Agent(name, RunKind.SCRIPT, f"/p/{name}.py", depends_on=tuple(DependsOn(d) for d in deps))


PROJECT = Project("demo", Path("/p"), (), {"db": agent("db"), "api": agent("api", "db"), "new": agent("new")})


class FakeSupervisor:
    def __init__(self) -> None:
        self.project = PROJECT
        self.stopping = False
        self.launches: dict[str, LaunchSpec] = {name: LaunchSpec(("x",), Path("/p"), {}) for name in ("db", "api")}
        self.active = {"db", "api"}
        self.calls: list[tuple] = []

    @property
    def agent_names(self) -> list[str]:
        return list(self.launches)

    def add_launches(self, launches: Mapping[str, LaunchSpec]) -> None:
        self.calls.append(("add_launches", sorted(launches)))
        self.launches.update(launches)

    def start(self, names: Sequence[str]) -> list[str]:
        self.calls.append(("start", list(names)))
        started = [n for n in names if n not in self.active]
        self.active.update(started)
        return started

    async def stop(self, names: Sequence[str], *, timeout: float | None = None) -> None:
        self.calls.append(("stop", list(names), timeout))
        self.active.difference_update(names)

    def request_shutdown(self, timeout: float | None = None) -> None:
        self.calls.append(("shutdown", timeout))

    async def wait_final(self, names: Sequence[str]) -> None:
        self.calls.append(("wait_final", list(names)))

    def active_dependents(self, name: str, excluding: Sequence[str] = ()) -> list[str]:
        return [other for other in sorted(self.active) if other not in excluding
                and any(dep.name == name for dep in self.project.agents[other].depends_on)]


class FakeRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def add_agents(self, project: Project, launches: Mapping[str, LaunchSpec]) -> None:
        self.calls.append(("add_agents", project.name, sorted(launches)))

    def mark_starting(self, names: Sequence[str]) -> None:
        self.calls.append(("mark_starting", list(names)))

    def write_now(self) -> None:
        self.calls.append(("write_now",))


@pytest.fixture
def handler():
    return ControlHandler(FakeSupervisor(), FakeRecorder())


def ask(handler: ControlHandler, request: dict) -> dict:
    return anyio.run(handler, request)


def test_start_hands_new_launches_to_the_supervisor_and_records_them(handler):
    spec = LaunchSpec(("python", "new.py"), Path("/p"), {"A": "1"}).to_dict()
    response = ask(handler, {"op": "start", "names": ["new"], "launches": {"new": spec}})
    assert response == {"ok": True, "started": ["new"]}
    assert handler.supervisor.calls == [("add_launches", ["new"]), ("start", ["new"])]
    assert handler.recorder.calls == [("add_agents", "demo", ["new"]), ("mark_starting", ["new"])]
    assert handler.supervisor.launches["new"].env == {"A": "1"}


def test_unknown_names_are_refused_before_anything_happens(handler):
    response = ask(handler, {"op": "stop", "names": ["db", "ghost"]})
    assert response["ok"] is False and "ghost" in response["error"] and response["hint"]
    assert handler.supervisor.calls == []


def test_stop_warns_about_dependents_that_keep_running_and_records_the_end(handler):
    response = ask(handler, {"op": "stop", "names": ["db"], "timeout": 3})
    assert response == {"ok": True, "stopped": ["db"], "warnings": ["api depend(s) on db and keep running"]}
    assert handler.supervisor.calls == [("stop", ["db"], 3), ("wait_final", ["db"])]
    assert handler.recorder.calls == [("write_now",)]


def test_stop_without_names_stops_everything_it_knows(handler):
    assert ask(handler, {"op": "stop"})["stopped"] == ["db", "api"]


def test_restart_is_stop_then_start_of_the_same_agents(handler):
    response = ask(handler, {"op": "restart", "names": ["api"]})
    assert response == {"ok": True, "started": ["api"], "warnings": []}
    assert [call[0] for call in handler.supervisor.calls] == ["stop", "wait_final", "add_launches", "start"]


def test_a_stopping_project_refuses_to_start(handler):
    handler.supervisor.stopping = True
    assert ask(handler, {"op": "start", "names": ["db"]})["error"] == "the project is stopping"


def test_down_ping_and_unknown_requests(handler):
    assert ask(handler, {"op": "down", "timeout": 2}) == {"ok": True}
    assert handler.supervisor.calls == [("shutdown", 2)]
    assert ask(handler, {"op": "ping"})["project"] == "demo"
    assert ask(handler, {"op": "explode"})["ok"] is False
    assert ask(handler, {"op": 5})["ok"] is False
