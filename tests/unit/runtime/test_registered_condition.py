"""`condition: registered` and `healthcheck: {registry: true}` in the
supervisor, against a small fake registry on loopback and real processes."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable

import anyio
import pytest

from fake_registry import FakeRegistry
from meshcompose.lifecycle import AgentState
from meshcompose.mesh import registered, registry
from meshcompose.model import Agent, Condition, DependsOn, Healthcheck, HealthKind, Project, RunKind
from meshcompose.plan.launch import build_launches
from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.runtime.supervisor import Supervisor

pytestmark = pytest.mark.timeout(60)

LIMIT_SECONDS = 30.0  # far beyond what each scenario needs, well within the test timeout


class Python:
    executable, version_text, is_venv = sys.executable, "3", False


class Recorder:
    """Records what the supervisor reports; `on_status` acts on each status as it comes."""

    def __init__(self, on_status: Callable[[AgentStatus], None] = lambda status: None) -> None:
        self.statuses: list[AgentStatus] = []
        self.notices: list[str] = []
        self.on_status = on_status

    def agent_lines(self, agent, stream, lines) -> None:
        pass

    def agent_status(self, status: AgentStatus) -> None:
        self.statuses.append(status)
        self.on_status(status)

    def notice(self, notice: Notice) -> None:
        self.notices.append(f"{notice.agent}: {notice.text}")

    def states(self, name: str) -> list[AgentState]:
        return [s.state for s in self.statuses if s.name == name]


def run_project(tmp_path: Path, fake: FakeRegistry, provider_code: str, *, until: Callable[[Recorder], bool],
                on_status: Callable[[AgentStatus], None] = lambda status: None) -> Recorder:
    """Runs provider and client until `until` holds of what was seen (or LIMIT_SECONDS: the
    assertions then tell what did not happen), then shuts down."""
    (tmp_path / "provider.py").write_text(provider_code)
    (tmp_path / "client.py").write_text("import time\nwhile True: time.sleep(0.1)\n")
    agents = {
        "provider": Agent("provider", RunKind.SCRIPT, str(tmp_path / "provider.py"), working_dir=tmp_path,
                          healthcheck=Healthcheck(HealthKind.REGISTRY, interval=0.1, retries=1)),
        "client": Agent("client", RunKind.SCRIPT, str(tmp_path / "client.py"), working_dir=tmp_path,
                        depends_on=(DependsOn("provider", Condition.REGISTERED),)),
    }
    project = Project("demo", tmp_path, (), agents)
    launches = build_launches(project, list(agents), {"provider": Python, "client": Python}, {})
    observer = Recorder(on_status)
    supervisor = Supervisor(project, launches, observer)
    supervisor.registry_url = fake.url

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            async def stop_when_seen() -> None:
                with anyio.move_on_after(LIMIT_SECONDS):
                    while not until(observer):
                        await anyio.sleep(0.05)
                supervisor.request_shutdown()
            tg.start_soon(stop_when_seen)
            await supervisor.run(list(agents))
            tg.cancel_scope.cancel()

    anyio.run(main)
    return observer


def once_provider(state: AgentState, action: Callable[[], None]) -> Callable[[AgentStatus], None]:
    """An `on_status` that runs `action` (in a thread: it may block) when the provider first is `state`."""
    done: list[bool] = []

    def on_status(status: AgentStatus) -> None:
        if status.name == "provider" and status.state is state and not done:
            done.append(True)
            threading.Thread(target=action, daemon=True).start()

    return on_status


@pytest.fixture
def fake():
    server = FakeRegistry().start()
    yield server
    server.die()


def test_dependent_waits_until_the_registry_lists_the_provider_healthy(tmp_path, fake):
    registered_at: list[float] = []

    def register_a_second_after_the_start() -> None:
        time.sleep(1.0)
        registered_at.append(time.time())
        fake.register(registry.agent_id("demo", "provider"))

    seen = run_project(tmp_path, fake, "import time\nwhile True: time.sleep(0.1)\n",
                       on_status=once_provider(AgentState.RUNNING, register_a_second_after_the_start),
                       until=lambda seen: AgentState.RUNNING in seen.states("client")
                       and AgentState.HEALTHY in seen.states("provider"))
    client = [s for s in seen.statuses if s.name == "client" and s.state is AgentState.RUNNING]
    provider = [s for s in seen.statuses if s.name == "provider" and s.state is AgentState.RUNNING]
    assert client and provider and registered_at, seen.statuses
    assert provider[0].started_at < registered_at[0] - 0.5  # the provider ran long before...
    assert client[0].started_at >= registered_at[0] - 0.05  # ...its dependent, which waited for the registry
    assert AgentState.HEALTHY in seen.states("provider")  # and `healthcheck: {registry: true}` saw it too


def test_provider_that_never_registers_and_exits_skips_its_dependent(tmp_path, fake):
    seen = run_project(tmp_path, fake, "import time\ntime.sleep(0.5)\n",
                       until=lambda seen: AgentState.SKIPPED in seen.states("client"))
    assert AgentState.SKIPPED in seen.states("client")
    assert AgentState.RUNNING not in seen.states("client")
    assert "client: skipped because 'provider' never registered: it is exited (0)" in seen.notices


def test_a_registry_that_dies_turns_the_provider_unhealthy(tmp_path, fake, monkeypatch):
    monkeypatch.setattr(registered, "STEADY", 0.2)  # re-read soon after registering, not in 15 s

    def register_soon_after_the_start() -> None:
        time.sleep(0.5)  # beyond the skew estimate's error (a round trip): surely after the start
        fake.register(registry.agent_id("demo", "provider"))

    registers = once_provider(AgentState.RUNNING, register_soon_after_the_start)
    dies = once_provider(AgentState.HEALTHY, fake.die)  # once it was seen healthy

    def on_status(status: AgentStatus) -> None:
        registers(status)
        dies(status)

    def unhealthy_after_healthy(seen: Recorder) -> bool:
        states = seen.states("provider")
        return AgentState.HEALTHY in states and AgentState.UNHEALTHY in states[states.index(AgentState.HEALTHY):]

    seen = run_project(tmp_path, fake, "import time\nwhile True: time.sleep(0.1)\n", on_status=on_status,
                       until=lambda seen: unhealthy_after_healthy(seen) and AgentState.RUNNING in seen.states("client"))
    states = seen.states("provider")
    assert AgentState.HEALTHY in states
    assert AgentState.UNHEALTHY in states[states.index(AgentState.HEALTHY):]
    assert AgentState.RUNNING in seen.states("client")
