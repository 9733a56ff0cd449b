"""meshcompose.runtime.reap: stop order from recorded depends_on, and stopping real
processes from records alone (graceful, forced after the grace, found by
token only, a reused pid left alone), then the state file updated under the lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from meshcompose.control import state
from meshcompose.control.lock import ProjectLock
from meshcompose.control.paths import STATE_DIR_NAME, STATE_FILE_NAME
from meshcompose.errors import AlreadyRunningError
from meshcompose.proc import process
from meshcompose.runtime import reap

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

POLITE = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nprint('ready', flush=True)\nwhile True: time.sleep(0.05)"
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True: time.sleep(0.05)"


def records(**deps: list) -> dict:
    return {name: state.new_agent(depends_on=list(on)) for name, on in deps.items()}


@pytest.mark.parametrize("graph, waves", [
    ({"a": [], "b": ["a"], "c": ["b"]}, [["c"], ["b"], ["a"]]),
    ({"db": [], "api": ["db"], "web": ["api"], "worker": ["db"], "loner": []},
     [["web", "worker", "loner"], ["api"], ["db"]]),
    ({"x": [], "y": []}, [["x", "y"]]),
    ({"a": ["gone"], "b": ["a", "a"]}, [["b"], ["a"]]),  # unknown and repeated dependencies
    ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["c"], ["a", "b"]]),  # a cycle cannot block
    ({"self": ["self"]}, [["self"]]),
    ({}, []),
])
def test_stop_waves_put_dependents_first(graph, waves):
    assert reap.stop_waves(records(**graph)) == waves


@pytest.fixture
def spawn():
    started: list[subprocess.Popen] = []

    def start(code: str, token: str | None = None, **extra: str) -> subprocess.Popen:
        env = {**os.environ, **extra}
        if token:
            env[process.TOKEN_VAR] = token
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                start_new_session=True)
        assert proc.stdout.readline().strip() == b"ready"  # signal handlers are in place
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def agent_record(proc: subprocess.Popen, token: str | None = None, **fields) -> dict:
    ident = process.identity(proc.pid)
    return state.new_agent(pid=proc.pid, create_time=ident.create_time, token=token, status="running", **fields)


@posix_only
def test_graceful_stop_within_the_grace(spawn):
    proc = spawn(POLITE)
    outcome = reap.reap_agent("a", agent_record(proc), grace=5)
    assert outcome == reap.Reaped("a", found=True, forced=False)
    assert proc.wait(5) == 0  # it ran its SIGTERM handler


@posix_only
def test_ignoring_the_stop_signal_is_killed_after_the_recorded_grace(spawn):
    proc = spawn(STUBBORN)
    began = time.monotonic()
    outcome = reap.reap_agent("s", agent_record(proc, stop_grace=0.5))
    took = time.monotonic() - began
    assert outcome.forced and outcome.found
    assert 0.4 <= took < 4, took  # the recorded 0.5 s, not the 10 s default
    assert proc.wait(5) == -9


@posix_only
def test_the_recorded_stop_signal_is_used(spawn):
    code = "import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *_: sys.exit(3))\n" \
           "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True: time.sleep(0.05)"
    proc = spawn(code)
    outcome = reap.reap_agent("i", agent_record(proc, stop_signal="SIGINT"), grace=5)
    assert not outcome.forced
    assert proc.wait(5) == 3


@posix_only
def test_an_agent_without_a_pid_is_found_by_its_token(spawn):
    token = uuid.uuid4().hex
    proc = spawn(POLITE, token)
    record = state.new_agent(status="starting", token=token)  # killed mid-spawn: no pid recorded
    assert reap.reap_agent("t", record, grace=1).found
    assert proc.wait(5) == -9


@posix_only
def test_a_reused_pid_is_never_signalled(spawn):
    proc = spawn(POLITE)
    record = agent_record(proc, token=uuid.uuid4().hex)
    record["create_time"] -= 3600
    assert reap.reap_agent("r", record, grace=1) == reap.Reaped("r", found=False, forced=False)
    time.sleep(0.2)
    assert proc.poll() is None


def test_nothing_recorded_is_nothing_found():
    assert reap.reap_agent("n", state.new_agent()) == reap.Reaped("n", found=False, forced=False)


@posix_only
def test_reap_project_stops_dependents_first_and_records_the_outcome(tmp_path: Path, spawn):
    events = tmp_path / "events"
    code = ("import os, signal, sys, time\n"
            "def stop(*_):\n    open(os.environ['EVENTS'], 'a').write(os.environ['NAME'] + '\\n'); sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, stop)\nprint('ready', flush=True)\nwhile True: time.sleep(0.05)")
    procs = {}
    for name in ("db", "api", "web"):
        procs[name] = spawn(code, EVENTS=str(events), NAME=name)
    store = state.StateStore(tmp_path, "p")
    store.write(state.new_document("p", tmp_path, []))
    store.update_agent("db", **agent_record(procs["db"]))
    store.update_agent("api", **agent_record(procs["api"], depends_on=["db"]))
    store.update_agent("web", **agent_record(procs["web"], depends_on=["api"]))
    store.update_agent("done", status="exited", exit_code=0)
    store.update_agent("stale", status="running", pid=1, create_time=0.0)  # init, recorded wrongly
    store.set_supervisor({"pid": 999999, "create_time": 1.0, "started_at": 0.0, "socket": "", "token": "",
                          "port": None, "detached": True})
    store.write_now()

    outcomes = reap.reap_project(tmp_path, "p", grace=5)
    assert [o.name for o in outcomes if o.found] == ["web", "api", "db"]
    assert events.read_text().split() == ["web", "api", "db"]
    doc = store.read()
    assert doc["supervisor"] is None
    assert {name: r["status"] for name, r in doc["agents"].items()} == dict.fromkeys(doc["agents"], "exited")
    assert doc["agents"]["web"]["message"] == reap.REAPED_MESSAGE
    assert doc["agents"]["stale"]["message"] == reap.GONE_MESSAGE
    assert doc["agents"]["done"]["exit_code"] == 0 and doc["agents"]["done"]["message"] is None
    assert psutil.Process(1).is_running()


def test_reap_project_refuses_while_a_supervisor_holds_the_lock(tmp_path: Path):
    store = state.StateStore(tmp_path, "p")
    store.write(state.new_document("p", tmp_path, []))
    with ProjectLock(tmp_path, "p"), pytest.raises(AlreadyRunningError) as caught:
        reap.reap_project(tmp_path, "p")
    assert caught.value.pid == os.getpid()


def test_reap_project_of_a_project_that_never_ran(tmp_path: Path):
    assert reap.reap_project(tmp_path, "p") == []
    assert not (tmp_path / STATE_DIR_NAME / "p" / STATE_FILE_NAME).exists()


def test_a_run_the_journal_replaced_is_still_reaped_and_reported_under_its_agent():
    from meshcompose.control import state
    from meshcompose.runtime.reap import Reaped, merged_runs, with_earlier_runs

    api = state.new_agent(pid=7, create_time=3.0, token="b" * 32, depends_on=["db"])
    db = state.new_agent(pid=8, create_time=4.0, token="c" * 32)
    earlier = {"api": [{"pid": 4242, "create_time": 1.0, "token": "a" * 32, "pgid": 4242, "cgroup": None},
                       {"pid": 5, "create_time": 1.0, "token": None, "pgid": 5, "cgroup": None},  # no token: left out
                       {"pid": 8, "create_time": 4.0, "token": "c" * 32, "pgid": 8, "cgroup": None}]}  # db's: known
    runs = with_earlier_runs({"api": api, "db": db}, earlier)
    assert sorted(runs) == ["api", "api#2", "db"]
    assert (runs["api#2"]["pid"], runs["api#2"]["token"], runs["api#2"]["depends_on"]) == (4242, "a" * 32, [])
    outcomes = [Reaped("api", found=False, forced=False), Reaped("api#2", found=True, forced=True),
                Reaped("db", found=False, forced=False)]
    assert merged_runs(outcomes, {"api": api, "db": db}) == [Reaped("api", True, True), Reaped("db", False, False)]
