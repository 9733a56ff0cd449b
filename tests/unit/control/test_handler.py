"""control.handler.ControlHandler against a scripted supervisor: it turns
requests into supervisor calls and never changes the supervisor's data itself.

Well-formed requests come from `control.client.ControlClient`, as the
application layer sends them (answered in-process); raw dicts are what
another client could send, which the handler must refuse."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import pytest

from meshcompose.control import client as control_client
from meshcompose.control.client import ControlClient, Pong, Recreated, Restarted, Stopped
from meshcompose.control.handler import CHANGED_WAIT_MAX, ControlHandler
from meshcompose.control.protocol import RefusedError
from meshcompose.model import Agent, DependsOn, Project, RunKind
from meshcompose.plan import codec
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

    def add_launches(self, launches: Mapping[str, LaunchSpec], agents: Mapping[str, Agent] | None = None) -> None:
        self.calls.append(("add_launches", sorted(launches)))
        self.launches.update(launches)
        if agents:
            self.project = dataclasses.replace(self.project, agents={**self.project.agents, **agents})

    async def recreate(self, agents: Mapping[str, Agent], launches: Mapping[str, LaunchSpec], *,
                       timeout: float | None = None) -> list[str]:
        self.calls.append(("recreate", sorted(agents), timeout))
        self.add_launches(launches, agents)
        return sorted(agents)

    async def restart(self, names: Sequence[str], *, timeout: float | None = None) -> list[str]:
        self.calls.append(("restart", list(names), timeout))
        return [*names, *self.restart_dependents(names)]

    def restart_dependents(self, names: Sequence[str]) -> list[str]:
        return [other for other in sorted(self.active) if other not in names and any(
            dep.name in names and dep.restart for dep in self.project.agents[other].depends_on)]

    def start(self, names: Sequence[str]) -> list[str]:
        self.calls.append(("start", list(names)))
        started = [n for n in names if n not in self.active]
        self.active.update(started)
        return started

    async def stop(self, names: Sequence[str], *, timeout: float | None = None) -> None:
        self.calls.append(("stop", list(names), timeout))
        self.active.difference_update(names)

    def forget(self, names: Sequence[str]) -> list[str]:
        self.calls.append(("forget", list(names)))
        gone = [name for name in names if name not in self.active]
        for name in gone:
            self.launches.pop(name, None)
        return gone

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

    def forget(self, names: Sequence[str]) -> None:
        self.calls.append(("forget", list(names)))

    async def wait_written(self, since: float, timeout: float) -> float:
        self.calls.append(("wait_written", since, timeout))
        return since + 1


@pytest.fixture
def handler():
    return ControlHandler(FakeSupervisor(), FakeRecorder())


def ask(handler: ControlHandler, request: dict) -> dict:
    return anyio.run(handler, request)


def client(handler: ControlHandler) -> ControlClient:
    """The application's client, answered by `handler` in this process, with
    what the protocol adds: a refusal raises, a token never reaches it."""

    def send(target: object, request: dict, *, timeout: float, token: str | None) -> dict:
        response = ask(handler, request)
        if not response.get("ok"):
            raise RefusedError(str(response.get("error")), hint=response.get("hint"))
        return response

    return ControlClient("/unused.sock", send=send)


def test_the_client_has_a_method_for_each_operation_of_the_handler():
    ops = {name[len("op_"):] for name in dir(ControlHandler) if name.startswith("op_")}
    assert ops == {name for name in ops if callable(getattr(ControlClient, name, None))}
    assert all(getattr(ControlClient, name).__module__ == control_client.__name__ for name in ops)


def test_start_hands_new_launches_to_the_supervisor_and_records_them(handler):
    spec = LaunchSpec(("python", "new.py"), Path("/p"), {"A": "1"})
    assert client(handler).start(["new"], launches={"new": spec}) == ("new",)
    assert handler.supervisor.calls == [("add_launches", ["new"]), ("start", ["new"])]
    assert handler.recorder.calls == [("add_agents", "demo", ["new"]), ("mark_starting", ["new"])]
    assert handler.supervisor.launches["new"].env == {"A": "1"}


def test_unknown_names_are_refused_before_anything_happens(handler):
    with pytest.raises(RefusedError) as refused:
        client(handler).stop(["db", "ghost"])
    assert "ghost" in refused.value.message and refused.value.hint
    assert handler.supervisor.calls == []


def test_stop_warns_about_dependents_that_keep_running_and_records_the_end(handler):
    reply = client(handler).stop(["db"], timeout=3)
    assert reply == Stopped(("db",), ("api depends on db and keeps running",))
    assert handler.supervisor.calls == [("stop", ["db"], 3), ("wait_final", ["db"])]
    assert handler.recorder.calls == [("write_now",)]


def test_stop_without_names_stops_everything_it_knows(handler):
    assert client(handler).stop().stopped == ("db", "api")


def test_restart_is_the_supervisor_s_restart_and_its_warning_is_truthful(handler):
    assert client(handler).restart(["api"], timeout=2) == Restarted(("api",))
    assert handler.supervisor.calls == [("restart", ["api"], 2)]
    warned = client(handler).restart(["db"]).warnings
    assert warned and "api depends on db and keeps running while it restarts" in warned[0]
    assert "restart: true" in warned[0]


def test_restart_takes_along_the_dependents_that_ask_for_it(handler):
    supervisor = handler.supervisor
    supervisor.project = dataclasses.replace(supervisor.project, agents={
        **supervisor.project.agents,
        "api": dataclasses.replace(agent("api"), depends_on=(DependsOn("db", restart=True),))})
    reply = client(handler).restart(["db"])
    assert reply.restarted_with == ("api",) and reply.warnings == ()


def test_start_of_an_agent_new_to_the_supervisor_carries_its_definition(handler):
    """An agent added to the file after `up`: the supervisor's model has never seen it."""
    spec = LaunchSpec(("python", "late.py"), Path("/p"), {})
    with pytest.raises(RefusedError, match="no definition sent for late"):
        client(handler).start(["late"], launches={"late": spec})
    assert client(handler).start(["late"], launches={"late": spec}, agents={"late": agent("late", "db")}) == ("late",)
    assert handler.supervisor.project.agents["late"].depends_on == (DependsOn("db"),)


def test_definitions_and_recreate(handler):
    listed = client(handler).definitions()
    assert sorted(listed) == ["api", "db"]  # `new` is in the model but was never launched
    assert listed["api"] == codec.encode(PROJECT.agents["api"])
    changed = dataclasses.replace(agent("api", "db"), args=("--fast",))
    spec = LaunchSpec(("python", "api.py", "--fast"), Path("/p"), {})
    assert client(handler).recreate({"api": changed}, {"api": spec}, timeout=4) == Recreated(("api",), ("api",))
    assert ("recreate", ["api"], 4) in handler.supervisor.calls
    assert handler.supervisor.project.agents["api"].args == ("--fast",)
    assert ask(handler, {"op": "recreate", "agents": {}, "launches": {}})["ok"] is False


def test_a_stopping_project_refuses_to_start(handler):
    handler.supervisor.stopping = True
    with pytest.raises(RefusedError, match="the project is stopping"):
        client(handler).start(["db"])


def test_down_ping_and_unknown_requests(handler):
    client(handler).down(timeout=2)
    assert handler.supervisor.calls == [("shutdown", 2)]
    assert client(handler).ping() == Pong(os.getpid(), "demo")
    assert ask(handler, {"op": "explode"})["ok"] is False
    assert ask(handler, {"op": 5})["ok"] is False


def test_changed_is_held_by_the_recorder_for_at_most_the_cap(handler):
    control, recorder = client(handler), handler.recorder
    assert control.changed(5.0, 1, answer_within=2) == 6.0
    control.changed(5, 3600, answer_within=2)
    assert recorder.calls[-2:] == [("wait_written", 5.0, 1), ("wait_written", 5, CHANGED_WAIT_MAX)]


@pytest.mark.parametrize("request_", [{"op": "changed"}, {"op": "changed", "since": "x", "timeout": 1},
                                      {"op": "changed", "since": 1, "timeout": True}])
def test_changed_needs_numbers(handler, request_):
    control, recorder = handler, handler.recorder
    response = ask(control, request_)
    assert response["ok"] is False and "since" in response["error"]
    assert not any(call[0] == "wait_written" for call in recorder.calls)


def test_an_agent_name_means_its_replicas_and_remove_stops_then_forgets_them(handler):
    supervisor = handler.supervisor
    for number in (1, 2, 3):
        supervisor.launches[f"web-{number}"] = LaunchSpec(("x",), Path("/p"), {})
    supervisor.active.update({"web-1", "web-2", "web-3"})
    response = ask(handler, {"op": "remove", "names": ["web-3", "web-2"], "timeout": 2})
    assert response == {"ok": True, "removed": ["web-3", "web-2"]}
    assert supervisor.calls == [("stop", ["web-3", "web-2"], 2), ("wait_final", ["web-3", "web-2"]),
                                ("forget", ["web-3", "web-2"])]
    assert handler.recorder.calls == [("write_now",), ("forget", ["web-3", "web-2"])]
    assert ask(handler, {"op": "stop", "names": ["web"]})["stopped"] == ["web-1"]  # the replicas the run has
