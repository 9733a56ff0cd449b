"""`condition: registered` and `healthcheck: {registry: true}` in the
supervisor, against a small fake registry on loopback and real processes."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

from fake_registry import FakeRegistry
from meshcompose.mesh import registered, registry
from meshcompose.model import (
    Agent,
    AgentState,
    Condition,
    DependsOn,
    Healthcheck,
    HealthKind,
    Project,
    RunKind,
)
from meshcompose.plan.launch import build_launches
from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.runtime.supervisor import Supervisor

pytestmark = pytest.mark.timeout(60)


class Python:
    executable, version_text, is_venv = sys.executable, "3", False


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[AgentStatus] = []
        self.notices: list[str] = []

    def agent_lines(self, agent, stream, lines) -> None:
        pass

    def agent_status(self, status: AgentStatus) -> None:
        self.statuses.append(status)

    def notice(self, notice: Notice) -> None:
        self.notices.append(f"{notice.agent}: {notice.text}")

    def states(self, name: str) -> list[AgentState]:
        return [s.state for s in self.statuses if s.name == name]


def run_project(tmp_path: Path, fake: FakeRegistry, provider_code: str, *, stop_after: float) -> Recorder:
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
    observer = Recorder()
    supervisor = Supervisor(project, launches, observer)
    supervisor.registry_url = fake.url

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            async def stop_later() -> None:
                await anyio.sleep(stop_after)
                supervisor.request_shutdown()
            tg.start_soon(stop_later)
            await supervisor.run(list(agents))
            tg.cancel_scope.cancel()

    anyio.run(main)
    return observer


@pytest.fixture
def fake():
    server = FakeRegistry().start()
    yield server
    server.die()


def test_dependent_waits_until_the_registry_lists_the_provider_healthy(tmp_path, fake):
    registered_at = time.time() + 1.0
    fake.register_later(1.0, registry.agent_id("demo", "provider"))
    seen = run_project(tmp_path, fake, "import time\nwhile True: time.sleep(0.1)\n", stop_after=3)
    client = [s for s in seen.statuses if s.name == "client" and s.state is AgentState.RUNNING]
    provider = [s for s in seen.statuses if s.name == "provider" and s.state is AgentState.RUNNING]
    assert client and provider
    assert provider[0].started_at < registered_at - 0.5  # the provider ran long before...
    assert client[0].started_at >= registered_at - 0.05  # ...its dependent, which waited for the registry
    assert AgentState.HEALTHY in seen.states("provider")  # and `healthcheck: {registry: true}` saw it too


def test_provider_that_never_registers_and_exits_skips_its_dependent(tmp_path, fake):
    seen = run_project(tmp_path, fake, "import time\ntime.sleep(0.5)\n", stop_after=5)
    assert AgentState.SKIPPED in seen.states("client")
    assert AgentState.RUNNING not in seen.states("client")
    assert "client: skipped because 'provider' never registered: it is exited (0)" in seen.notices


def test_a_registry_that_dies_turns_the_provider_unhealthy(tmp_path, fake, monkeypatch):
    monkeypatch.setattr(registered, "STEADY", 0.2)  # re-read soon after registering, not in 15 s
    fake.register_later(0.5, registry.agent_id("demo", "provider"))  # after its process started
    threading.Timer(1.5, fake.die).start()
    seen = run_project(tmp_path, fake, "import time\nwhile True: time.sleep(0.1)\n", stop_after=3)
    states = seen.states("provider")
    assert AgentState.HEALTHY in states
    assert AgentState.UNHEALTHY in states[states.index(AgentState.HEALTHY):]
    assert AgentState.RUNNING in seen.states("client")
