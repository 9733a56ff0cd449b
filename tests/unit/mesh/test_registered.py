"""mesh.registered.Registration against a fake registry: the `registered`
condition holds once the agent is listed healthy, and fails with a reason
once the agent has ended; the probe answers for one agent right now."""

from __future__ import annotations

import anyio
import pytest

from fake_registry import FakeRegistry
from meshcompose.mesh import registry
from meshcompose.mesh.registered import Registration

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def fake():
    server = FakeRegistry().start()
    yield server
    server.die()


async def never() -> str:
    await anyio.sleep_forever()
    return ""


def test_waits_until_the_agent_is_listed_healthy(fake):
    fake.register(registry.agent_id("demo", "other"))
    fake.register_later(0.5, registry.agent_id("demo", "provider"))

    async def main() -> tuple:
        with anyio.fail_after(10):
            return await Registration(fake.url, "demo").wait("provider", never)

    assert anyio.run(main) == (True, "")


def test_an_agent_that_ends_first_never_registers(fake):
    async def ended() -> str:
        await anyio.sleep(0.3)
        return "it is exited (0)"

    async def main() -> tuple:
        with anyio.fail_after(10):
            return await Registration(fake.url, "demo").wait("provider", ended)

    assert anyio.run(main) == (False, "'provider' never registered: it is exited (0)")


def test_the_probe_answers_for_its_agent_only(fake):
    fake.register(registry.agent_id("demo", "a"))
    registration = Registration(fake.url, "demo")

    async def main() -> tuple:
        return await registration.probe("a")(), await registration.probe("b")()

    assert anyio.run(main) == (True, False)


def test_a_wired_probe_waits_for_every_dependency_to_resolve(fake):
    fake.register(registry.agent_id("demo", "a"))
    unresolved = [{"capability": "greeting", "function_name": "welcome", "status": "unresolved"}]
    fake.agents[registry.agent_id("demo", "a")]["dependency_resolutions"] = unresolved
    registration = Registration(fake.url, "demo")

    async def probes() -> tuple:
        return await registration.probe("a")(), await registration.probe("a", wired=True)()

    assert anyio.run(probes) == (True, False)
    resolved = [{**unresolved[0], "status": "available", "provider_agent_id": "demo-b"}]
    fake.agents[registry.agent_id("demo", "a")]["dependency_resolutions"] = resolved
    assert anyio.run(registration.probe("a", wired=True)) is True


def test_a_wired_probe_waits_out_a_registration_listed_before_its_dependencies(fake):
    # The real registry lists a new registration a moment before its
    # dependencies: one read then shows an agent with dependencies as one without.
    unresolved = [{"capability": "greeting", "function_name": "welcome", "status": "unresolved"}]
    fake.register_in_two_steps(registry.agent_id("demo", "a"), unresolved)
    fake.register(registry.agent_id("demo", "b"))  # one with no dependencies at all
    registration = Registration(fake.url, "demo")

    async def probes() -> tuple:
        return await registration.probe("a", wired=True)(), await registration.probe("b", wired=True)()

    assert anyio.run(probes) == (False, True)


def test_a_listener_sees_every_new_read_and_causes_none():
    from meshcompose.mesh.registered import RegistryPoller
    from meshcompose.mesh.registry_client import Snapshot

    fetched = []

    async def fetch(url: str) -> Snapshot:
        fetched.append(url)
        return Snapshot({})

    poller = RegistryPoller("http://127.0.0.1:9", fetch)
    seen = []
    poller.listeners.append(seen.append)

    async def main() -> None:
        for _ in range(5):
            await poller.read(60.0)  # one read serves them all

    anyio.run(main)
    assert len(fetched) == len(seen) == 1 and poller.requests == 1
