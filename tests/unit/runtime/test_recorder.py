from __future__ import annotations

import anyio

from meshcompose.runtime.events import Notice
from meshcompose.runtime.recorder import Flusher


class CountingSink:
    def __init__(self) -> None:
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_flusher_flushes_soon_after_output_and_never_while_idle():
    sink = CountingSink()
    flusher = Flusher([sink], delay=0.02)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher.run)
            await anyio.sleep(0.3)
            assert sink.flushes == 0  # idle: not woken once
            flusher.agent_lines("a", "out", ["x"] * 3)
            flusher.notice(Notice("started", "a"))
            await anyio.sleep(0.1)
            assert sink.flushes == 1  # one flush for the burst
            await anyio.sleep(0.3)
            assert sink.flushes == 1
            tg.cancel_scope.cancel()
        assert sink.flushes == 2  # and once more on the way out

    anyio.run(main)


def test_a_running_agent_without_a_health_verdict_yet_is_recorded_as_starting(tmp_path):
    """Not yet registered (or probed) is `starting`, which
    `ps` shows as `running (starting)`; an agent without a healthcheck has no health."""
    from pathlib import Path

    from meshcompose.app.ps import status_label
    from meshcompose.control.state import StateStore, new_document
    from meshcompose.lifecycle import AgentState
    from meshcompose.model import Agent, Healthcheck, HealthKind, Project, RunKind
    from meshcompose.plan.launch import LaunchSpec
    from meshcompose.runtime.events import AgentStatus
    from meshcompose.runtime.recorder import StateRecorder

    checked = Agent(name="api", run=RunKind.SCRIPT, target="a.py", healthcheck=Healthcheck(HealthKind.REGISTRY))
    plain = Agent(name="job", run=RunKind.SCRIPT, target="b.py")
    project = Project("p", tmp_path, (), {"api": checked, "job": plain})
    store = StateStore(tmp_path, "p")
    store.write(new_document("p", tmp_path, []))
    recorder = StateRecorder(store, tmp_path / "logs")
    launch = LaunchSpec(argv=("python",), cwd=Path(tmp_path), env={})
    recorder.add_agents(project, {"api": launch, "job": launch})

    def recorded(name: str, state: AgentState) -> tuple[str | None, str]:
        recorder.agent_status(AgentStatus(name, state))
        record = store.doc["agents"][name]
        return record["health"], status_label(state.value, record)

    assert recorded("api", AgentState.RUNNING) == ("starting", "running (starting)")
    assert recorded("api", AgentState.HEALTHY) == ("healthy", "running (healthy)")
    assert recorded("api", AgentState.UNHEALTHY) == ("unhealthy", "running (unhealthy)")
    assert recorded("api", AgentState.EXITED) == (None, "exited")
    assert recorded("job", AgentState.RUNNING) == (None, "running")
