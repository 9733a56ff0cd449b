"""On the real stack: stale registrations do not pass `registered`.

After `kill -9` of the agents and the supervisor, the registry keeps their
fixed ids listed healthy for 20-30 s. An immediate `up -d` must still start
the dependent only after its dependency's new process registered.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

import pytest

from mesh_helpers import HELLO_ID, alive, recorded, wait_until
from meshcompose.mesh import registry_client

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(300)]


class LastSeenWatcher:
    """Reads hello's `last_seen` every 0.1 s: the registry's record of each
    registration and heartbeat, to find the first one after a start."""

    def __init__(self, url: str) -> None:
        self.url, self.seen = url, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            taken = registry_client.snapshot(self.url)
            info = taken.agents.get(HELLO_ID) if taken else None
            if info is not None and info.healthy and info.last_seen is not None:
                self.seen.add(info.last_seen - taken.skew)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def kill_everything(doc: dict) -> list[int]:
    pids = [doc["supervisor"]["pid"]]
    for record in doc["agents"].values():
        if record.get("pgid"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record["pgid"], signal.SIGKILL)
            pids.append(record["pid"])
    os.kill(doc["supervisor"]["pid"], signal.SIGKILL)
    return pids


def test_after_kill_9_an_immediate_up_waits_for_the_fresh_registration(example, driver):
    project, cli = example
    driver.start_registry()  # survives the kill, as someone's shared registry would
    first = cli("up", "-d", "--registry-url", driver.url, "--wait-timeout", "150")
    assert first.returncode == 0, first.stdout + first.stderr

    pids = kill_everything(recorded(project))
    wait_until(lambda: not any(alive(pid) for pid in pids), 10, "the killed processes to be gone")
    assert registry_client.agents(driver.url)[HELLO_ID].healthy  # the stale entry the bug trusted

    watcher = LastSeenWatcher(driver.url)
    try:
        again = cli("up", "-d", "--registry-url", driver.url, "--wait-timeout", "150")
    finally:
        watcher.stop()
    assert again.returncode == 0, again.stdout + again.stderr
    agents = recorded(project)["agents"]
    hello_started, greeter_started = agents["hello"]["started_at"], agents["greeter"]["started_at"]
    fresh = [moment for moment in watcher.seen if moment >= hello_started]
    assert fresh, f"hello never re-registered after its start at {hello_started}"
    # The dependent started after the new registration, not ms after hello's start.
    assert greeter_started >= min(fresh) - 0.05, (greeter_started, min(fresh))
    assert greeter_started - hello_started > 1.0
    assert cli("down").returncode == 0
    driver.down()
