"""`app.waiting.wait_until_up` against a real control server and state file:
once a supervisor serves, the wait ends on its write of the state file
(`op changed`), not on a poll of the file
(a poll would make `up -d` return up to a poll period after the last registration)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import anyio
import pytest

from meshcompose.app import waiting
from meshcompose.control import protocol, state
from meshcompose.control.handler import ControlHandler
from meshcompose.lifecycle import AgentState
from meshcompose.runtime.events import AgentStatus
from meshcompose.runtime.recorder import StateRecorder

HEALTHY_AFTER = 0.5  # seconds until the scripted supervisor records the agent healthy


class Supervisor:
    """`op changed` asks nothing of the supervisor itself."""


@pytest.fixture
def socket_dir():
    short = Path(tempfile.mkdtemp(prefix="mcw", dir="/tmp"))  # a unix socket path is limited to ~104 bytes
    yield short
    shutil.rmtree(short, ignore_errors=True)


def serve_supervisor(project_dir: Path, socket: Path, serving: threading.Event, done: threading.Event) -> None:
    """A supervisor's state file and control socket; after HEALTHY_AFTER it
    records `api` healthy, as the health monitor would."""
    store = state.StateStore(project_dir, "demo")
    store.write(state.new_document("demo", project_dir, []))
    recorder = StateRecorder(store, project_dir / "logs")
    store.update_agent("api", status=AgentState.RUNNING.value)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: protocol.serve(
                socket, ControlHandler(Supervisor(), recorder), token="t",  # type: ignore[arg-type]
                task_status=task_status))
            store.set_supervisor(state.SupervisorRecord(
                pid=0, create_time=0.0, started_at=time.time(), socket=str(socket), token="t", port=None,
                detached=True))
            store.write_now()
            serving.set()
            await anyio.sleep(HEALTHY_AFTER)
            recorder.agent_status(AgentStatus("api", AgentState.HEALTHY, pid=1))
            store.flush()  # what the Flusher does a moment later
            while not done.is_set():
                await anyio.sleep(0.05)
            tg.cancel_scope.cancel()

    anyio.run(main)


def test_the_wait_ends_on_the_supervisors_write_not_on_a_poll(tmp_path, socket_dir, monkeypatch):
    monkeypatch.setattr(waiting, "POLL_SECONDS", 60.0)  # a poll would end the wait a minute late
    serving, done = threading.Event(), threading.Event()
    server = threading.Thread(target=serve_supervisor, args=(tmp_path, socket_dir / "s.sock", serving, done))
    server.start()
    try:
        assert serving.wait(30)
        began = time.monotonic()
        outcome = waiting.wait_until_up(tmp_path, "demo", ["api"], {"api"}, timeout=120)
        waited = time.monotonic() - began
    finally:
        done.set()
        server.join(30)
    assert outcome.ok, outcome
    assert [agent.status for agent in outcome.agents] == ["healthy"]
    # Told by the supervisor's write at ~HEALTHY_AFTER; a poll would have slept 60 s.
    assert waited < 30, waited


def test_without_a_serving_supervisor_the_file_is_polled(tmp_path):
    store = state.StateStore(tmp_path, "demo")
    store.write(state.new_document("demo", tmp_path, []))
    store.update_agent("api", status=AgentState.HEALTHY.value)
    store.write_now()
    doc = store.read()
    assert doc is not None
    assert waiting.await_change(doc, 1.0) is False  # nobody to ask: the caller polls
    assert waiting.wait_until_up(tmp_path, "demo", ["api"], {"api"}, timeout=10).ok


@pytest.mark.parametrize("status, exit_code, completing, reached", [
    ("running", None, False, True),  # up: a running one-shot counts
    ("running", None, True, None),  # a dependency that must complete: not yet
    ("exited", 0, True, True),
    ("exited", 2, True, False),
    ("healthy", None, True, None),
    ("failed", None, True, False),
])
def test_an_agent_that_must_complete_is_reached_only_by_exiting_0(status, exit_code, completing, reached):
    record = state.new_agent(status=status, exit_code=exit_code)
    assert waiting._reached(record, False, completing) is reached
