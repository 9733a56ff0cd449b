"""Fresh registrations only, and one shared registry poller.

A registration counts for a process started at T only when the registry
heard from the agent after T; the registry's clock is taken back to ours
with the skew of its own timestamp. Concurrent waiters and probes share one
`GET /agents`; probes of registered agents reuse a read for STEADY seconds.
"""

from __future__ import annotations

import time

import anyio
import pytest

from fake_registry import FakeRegistry
from meshcompose.mesh import registered, registry, registry_client
from meshcompose.mesh.registered import Registration, RegistryPoller
from meshcompose.mesh.registry_client import AgentInfo, Snapshot
from meshcompose.model import Healthcheck, HealthKind
from meshcompose.runtime.health import REGISTRY_START_PERIOD, Probe, _Tracker

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def fake():
    server = FakeRegistry().start()
    registered._pollers.clear()
    yield server
    server.die()
    registered._pollers.clear()


def info(last_seen: float | None, status: str = "healthy") -> AgentInfo:
    return AgentInfo(id="a", name="a", status=status, capabilities=1, last_seen=last_seen)


def test_a_registration_older_than_the_process_does_not_count():
    started = 1000.0
    assert not Snapshot({"a": info(999.0)}).registered_since("a", started)
    assert Snapshot({"a": info(1001.0)}).registered_since("a", started)
    assert not Snapshot({"a": info(None)}).registered_since("a", started)
    assert not Snapshot({"a": info(1001.0, "unhealthy")}).registered_since("a", started)
    assert Snapshot({"a": info(None)}).registered_since("a", None)  # no start known: any healthy entry


def test_the_registry_clock_is_taken_back_to_ours():
    # The registry runs 50 s ahead: its 1030 is our 980, before the start at 1000.
    assert not Snapshot({"a": info(1030.0)}, skew=50.0).registered_since("a", 1000.0)
    # It runs 50 s behind: its 960 is our 1010, after the start.
    assert Snapshot({"a": info(960.0)}, skew=-50.0).registered_since("a", 1000.0)


def test_the_snapshot_reads_last_seen_and_skew_from_the_registry(fake):
    fake.register("a", last_seen=time.time() - 30)
    taken = registry_client.snapshot(fake.url)
    assert taken is not None and abs(taken.skew) < 0.5
    assert abs(taken.agents["a"].last_seen - (time.time() - 30)) < 1
    assert registry_client.parse_time("2026-11-25T13:03:45.745049678Z") == pytest.approx(1795611825.745049678)


def test_a_waiter_ignores_a_stale_healthy_entry_until_the_agent_registers_again(fake):
    agent_id = registry.agent_id("demo", "provider")
    started = time.time()
    fake.register(agent_id, last_seen=started - 10)  # the kill -9ed predecessor, still "healthy"
    fake.register_later(1.0, agent_id)  # the new process registers

    async def never() -> str:
        await anyio.sleep_forever()
        return ""

    async def main() -> float:
        with anyio.fail_after(10):
            await Registration(fake.url, "demo").wait("provider", never, lambda: started)
        return time.time() - started

    assert anyio.run(main) >= 1.0


def test_concurrent_waiters_share_one_request_per_interval(fake):
    ids = [registry.agent_id("demo", f"a{i}") for i in range(8)]
    for agent_id in ids:
        fake.register_later(2.0, agent_id)
    registration = Registration(fake.url, "demo")

    async def never() -> str:
        await anyio.sleep_forever()
        return ""

    async def main() -> None:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(registration.wait, f"a{i}", never)

    anyio.run(main)
    # 8 waiters for ~2 s at one read per FAST together (~2 / FAST + the last), not 8 each.
    assert len(fake.requests) <= 2.0 / registered.FAST + 4, fake.requests


def test_a_probe_of_a_registered_agent_reuses_reads_for_steady_seconds():
    reads: list[float] = []

    async def fetch(url: str) -> Snapshot:
        reads.append(time.monotonic())
        return Snapshot({registry.agent_id("demo", "a"): info(time.time())})

    async def main() -> list[bool]:
        registered._pollers["http://x"] = RegistryPoller("http://x", fetch)
        probe = Registration("http://x", "demo").probe("a", lambda: time.time() - 5)
        return [await probe() for _ in range(5)]

    try:
        assert anyio.run(main) == [True] * 5
    finally:
        registered._pollers.clear()
    assert len(reads) == 1  # seen registered at the first read: the next 4 reuse it (STEADY)


def test_not_yet_registered_is_starting_not_unhealthy_for_the_registry_start_period():
    changes: list[bool] = []
    check = Healthcheck(HealthKind.REGISTRY, interval=2.0, retries=3)
    tracker = _Tracker(check, lambda probe: changes.append(probe.healthy), started=0.0)
    for now in range(0, int(REGISTRY_START_PERIOD), 2):
        tracker.record(Probe(False), float(now))
    assert changes == []  # never registered yet: still starting, no warning
    tracker.record(Probe(True), REGISTRY_START_PERIOD)
    for now in (1, 2, 3):
        tracker.record(Probe(False), REGISTRY_START_PERIOD + now)
    assert changes == [True, False]  # registered, then dropped: unhealthy


def test_an_agent_that_never_registers_is_unhealthy_after_the_start_period():
    changes: list[bool] = []
    tracker = _Tracker(Healthcheck(HealthKind.REGISTRY, retries=3), lambda probe: changes.append(probe.healthy), started=0.0)
    for now in range(3):
        tracker.record(Probe(False), REGISTRY_START_PERIOD + now)
    assert changes == [False]


def test_an_explicit_start_period_wins():
    changes: list[bool] = []
    tracker = _Tracker(Healthcheck(HealthKind.REGISTRY, retries=1, start_period=1.0), lambda probe: changes.append(probe.healthy), started=0.0)
    tracker.record(Probe(False), 2.0)
    assert changes == [False]
