"""The speed mechanisms of a mesh on the real stack, as mechanisms (the figures are
in benchmarks/bench_mesh.py):

- `up -d` ends with the supervisor's write that records the last agent up
  (its `changed` answer), never by sleeping on a poll once the supervisor
  serves; so it returns right after the last registration.
- `down` keeps the reverse order in the registry's view: the dependent has
  deregistered before its dependency is signalled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mesh_helpers import GREETER_ID, HELLO_ID, PROJECT, free_port, raw_agents
from meshcompose.mesh.registry_client import parse_time

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(240)]

# The real CLI, with app.waiting's two ways of waiting traced.
TRACED_CLI = """
import json, sys, time
from meshcompose.app import waiting

trace = []
answered_by_supervisor, real_sleep = waiting.await_change, time.sleep

def await_change(doc, remaining):
    answered = answered_by_supervisor(doc, remaining)
    trace.append(["changed", time.time(), answered])
    return answered

class Clock:
    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def sleep(seconds):
        trace.append(["sleep", time.time(), seconds])
        real_sleep(seconds)

waiting.await_change, waiting.time = await_change, Clock
from meshcompose.cli.main import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(trace, out)
sys.exit(code)
"""


def traced_up(project: Path, mesh_stack, url: str, trace: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent)}
    env.pop("MCP_MESH_REGISTRY_URL", None)
    result = subprocess.run([sys.executable, "-c", TRACED_CLI, str(trace), "up", "-d", "--registry-url", url,
                             "--wait-timeout", "150"], cwd=project, env=env, capture_output=True, text=True,
                            timeout=200, stdin=subprocess.DEVNULL)
    return result, time.time()


def test_up_d_ends_on_the_supervisors_write_after_the_last_registration(example, mesh_stack, tmp_path):
    project, cli = example
    url = f"http://127.0.0.1:{free_port()}"
    up, returned = traced_up(project, mesh_stack, url, tmp_path / "trace.json")
    assert up.returncode == 0, up.stdout + up.stderr
    trace = json.loads((tmp_path / "trace.json").read_text())

    answers = [at for kind, at, answered in trace if kind == "changed" and answered]
    assert answers, trace  # the supervisor was asked, and answered
    # Once it served, the wait never slept on a poll: every sleep came before its first answer.
    assert all(at <= answers[0] for kind, at, _ in trace if kind == "sleep"), trace
    assert trace[-1][0] == "changed" and trace[-1][2], trace  # the wait ended on an answer

    registered = max(parse_time(raw_agents(url)[agent_id]["created_at"]) for agent_id in (HELLO_ID, GREETER_ID))
    assert registered is not None
    # The answer that ended it came after the last registration, and `up -d` returned after it.
    assert registered <= answers[-1] <= returned


class RegistryWatch:
    """Reads `GET /agents` in a thread while `down` runs: the snapshots in
    order, each with the times its read began and ended. The registry served
    it somewhere in between, so a status it shows held then."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.snapshots: list[tuple[float, float, dict[str, str]]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> RegistryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(10)

    def _read(self) -> None:
        while not self._done.is_set():
            began = time.time()
            try:
                listed = raw_agents(self.url)
            except (OSError, ValueError):
                return  # the registry stopped: the last snapshot is in
            seen = {agent_id: agent["status"] for agent_id, agent in listed.items()}
            self.snapshots.append((began, time.time(), seen))
            time.sleep(0.02)

    def statuses(self) -> list[dict[str, str]]:
        return [seen for _, _, seen in self.snapshots]


def events(project: Path) -> list[dict]:
    path = project / ".mesh-compose" / PROJECT / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_down_stops_a_dependency_once_its_dependent_left_the_mesh(example):
    """An SDK agent deregisters on its stop signal, then spends most of a
    second ending its interpreter: the reverse order is kept at the mesh's
    level (meshctl stops everything at once), and every line says what happened."""
    project, cli = example
    url = f"http://127.0.0.1:{free_port()}"
    up = cli("up", "-d", "--registry-url", url, "--wait-timeout", "150")
    assert up.returncode == 0, up.stdout + up.stderr
    with RegistryWatch(url) as watch:
        down = cli("down")
    assert down.returncode == 0, down.stdout + down.stderr

    # The registry's view: a moment when greeter had left the mesh and hello had not, never the reverse.
    statuses = watch.statuses()
    assert any(seen.get(GREETER_ID) == "unhealthy" and seen.get(HELLO_ID) == "healthy" for seen in statuses), statuses
    assert not any(seen.get(HELLO_ID) == "unhealthy" and seen.get(GREETER_ID) == "healthy"
                   for seen in statuses), statuses

    told = list(events(project))
    stops = {event["service"]: parse_time(event["time"]) for event in told if event["action"] == "stop"}
    dies = {event["service"]: parse_time(event["time"]) for event in told if event["action"] == "die"}
    # greeter was signalled first, hello only once the registry no longer listed greeter, the registry last.
    # The watch's own reads bound when the registry changed: a read that still showed greeter listed
    # began before it left, and one that showed it gone ended after (the supervisor's poller is not
    # the watch, so either may see the change first).
    greeter_gone_seen = next(ended for _, ended, seen in watch.snapshots if seen.get(GREETER_ID) == "unhealthy")
    greeter_listed_read = max(began for began, _, seen in watch.snapshots if seen.get(GREETER_ID) == "healthy")
    assert stops["greeter"] < greeter_gone_seen, (stops, watch.snapshots)
    assert greeter_listed_read < stops["hello"] < stops["mesh-registry"], (stops, watch.snapshots)
    # hello did not wait for greeter's interpreter to end: it was signalled before greeter's process died.
    assert stops["hello"] < dies["greeter"], (stops, dies)
    log = (project / ".mesh-compose" / PROJECT / "supervisor.log").read_text()
    assert " greeter => left the mesh (deregistered)" in log, log
