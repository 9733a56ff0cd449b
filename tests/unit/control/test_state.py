"""The state file, the project lock, socket paths and liveness: real files,
real processes, real flock."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from meshcompose.control import state
from meshcompose.errors import AlreadyRunningError, MeshComposeError
from meshcompose.model import AgentState

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and flock")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored(tmp_path: Path, **agents) -> state.StateStore:
    store = state.StateStore(tmp_path)
    doc = state.new_document("demo", tmp_path, [str(tmp_path / "mesh-compose.yaml")])
    doc["agents"] = {name: state.new_agent(**fields) for name, fields in agents.items()}
    store.write(doc)
    return store


@posix_only
def test_state_dir_is_created_private_and_tightened(tmp_path):
    assert mode(state.state_dir(tmp_path)) == 0o700
    loose = tmp_path / "other" / ".mesh-compose"
    loose.mkdir(parents=True, mode=0o755)
    os.chmod(loose, 0o755)
    assert state.state_dir(tmp_path / "other") == loose
    assert mode(loose) == 0o700


@posix_only
def test_written_state_reads_back_and_is_private(tmp_path):
    store = stored(tmp_path, api={"status": AgentState.RUNNING, "pid": 42, "depends_on": ("db",)})
    doc = state.StateStore(tmp_path).read()
    assert doc["version"] == 1 and doc["project"] == "demo"
    assert doc["agents"]["api"]["status"] == "running"
    assert doc["agents"]["api"]["depends_on"] == ["db"]
    assert doc["agents"]["api"]["restarts"] == 0  # defaults are filled in
    assert mode(store.path) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["state.json"]  # no temp left


def test_a_project_that_never_ran_has_no_state(tmp_path):
    assert state.StateStore(tmp_path).read() is None
    assert not (tmp_path / ".mesh-compose").exists()  # reading creates nothing


@pytest.mark.parametrize("content, words", [
    ("{not json", "corrupt"),
    ('{"agents": {}}', "corrupt"),
    ('[1, 2]', "corrupt"),
    ('{"version": 99, "agents": {}}', "newer mesh-compose"),
])
def test_unreadable_state_is_an_error_with_a_hint(tmp_path, content, words):
    state.state_dir(tmp_path)
    (tmp_path / ".mesh-compose" / "state.json").write_text(content)
    with pytest.raises(MeshComposeError) as caught:
        state.StateStore(tmp_path).read()
    assert words in caught.value.message and caught.value.hint


def test_updates_are_coalesced_until_flush(tmp_path):
    store = stored(tmp_path)
    for index in range(50):
        store.update_agent(f"a{index}", status=AgentState.STARTING, log_path=f"/logs/a{index}.log")
        store.update_agent(f"a{index}", status=AgentState.RUNNING, pid=1000 + index)
    assert state.StateStore(tmp_path).read()["agents"] == {}  # nothing written yet
    assert store.flush() is True
    agents = state.StateStore(tmp_path).read()["agents"]
    assert len(agents) == 50 and agents["a7"]["status"] == "running" and agents["a7"]["pid"] == 1007
    assert store.flush() is False  # nothing changed since


def test_unknown_agent_field_is_refused(tmp_path):
    store = stored(tmp_path)
    with pytest.raises(TypeError, match="stauts"):
        store.update_agent("api", stauts="running")


def test_readers_never_see_a_partial_state_file(tmp_path):
    store = stored(tmp_path)
    stop = threading.Event()
    failures: list[Exception] = []

    def read_repeatedly() -> None:
        reader = state.StateStore(tmp_path)
        while not stop.is_set():
            try:
                reader.read()
            except MeshComposeError as error:
                failures.append(error)

    thread = threading.Thread(target=read_repeatedly)
    thread.start()
    try:
        for index in range(200):
            store.update_agent(f"agent-{index}", message="x" * 2000)
            store.write_now()
    finally:
        stop.set()
        thread.join()
    assert failures == []


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from meshcompose.control.state import ProjectLock
    from meshcompose.errors import AlreadyRunningError
    project, start_at, hold = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    time.sleep(max(0.0, start_at - time.time()))
    lock = ProjectLock(project, "demo")
    try:
        lock.acquire()
    except AlreadyRunningError as error:
        print("lost", error.pid, flush=True)
        sys.exit(0)
    print("won", flush=True)
    time.sleep(hold)
    lock.release()
""")


def lock_holders(tmp_path: Path, count: int, hold: float) -> list[subprocess.Popen]:
    start_at = time.time() + 1.0  # all of them try at the same moment
    return [subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path), str(start_at), str(hold)],
                             stdout=subprocess.PIPE, text=True) for _ in range(count)]


def test_of_simultaneous_lockers_exactly_one_wins_and_losers_name_it(tmp_path):
    procs = lock_holders(tmp_path, 8, hold=1.5)
    outputs = {proc.pid: proc.communicate(timeout=30)[0].split() for proc in procs}
    winners = [pid for pid, words in outputs.items() if words == ["won"]]
    assert len(winners) == 1, outputs
    losers = [words for words in outputs.values() if words[0] == "lost"]
    assert len(losers) == 7 and all(int(words[1]) == winners[0] for words in losers)


def test_the_lock_dies_with_its_holder(tmp_path):
    (holder,) = lock_holders(tmp_path, 1, hold=60)
    try:
        assert holder.stdout.readline().strip() == "won"
        with pytest.raises(AlreadyRunningError) as caught:
            state.ProjectLock(tmp_path, "demo").acquire()
        assert caught.value.pid == holder.pid
        assert f"supervisor pid {holder.pid}" in caught.value.message
    finally:
        holder.kill()
        holder.wait()
    with state.ProjectLock(tmp_path, "demo") as lock:  # no stale lock after a SIGKILL
        assert lock.held
        assert (tmp_path / ".mesh-compose" / "lock").read_text().strip() == str(os.getpid())
    assert not lock.held


@posix_only
def test_socket_path_is_short_private_and_per_project(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 12)
    deep.mkdir(parents=True)
    path = state.socket_path(deep)
    assert len(str(path)) < 100 and len(str(deep)) > 300
    assert path.parent == Path(f"/tmp/mesh-compose-{os.getuid()}")
    assert mode(path.parent) == 0o700
    assert state.socket_path(deep) == path
    assert state.socket_path(tmp_path) != path


@posix_only
def test_socket_path_uses_a_short_xdg_runtime_dir_only(tmp_path, monkeypatch):
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    if len(str(runtime)) <= 60:
        assert state.socket_path(tmp_path).parent == runtime / "mesh-compose"
    long_runtime = tmp_path.joinpath(*["x" * 30] * 3)
    long_runtime.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long_runtime))
    assert state.socket_path(tmp_path).parent == Path(f"/tmp/mesh-compose-{os.getuid()}")


def test_process_alive_checks_pid_and_create_time():
    me = psutil.Process()
    assert state.process_alive(me.pid, me.create_time())
    assert not state.process_alive(me.pid, me.create_time() - 5)  # a reused pid
    assert not state.process_alive(None, None)


@posix_only
def test_a_zombie_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(child.pid).create_time()
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert not state.process_alive(child.pid, created)
    finally:
        child.wait()


def test_supervisor_alive_reads_the_record(tmp_path):
    me = psutil.Process()
    doc = state.new_document("demo", tmp_path, [])
    assert not state.supervisor_alive(doc) and not state.supervisor_alive(None)
    doc["supervisor"] = {"pid": me.pid, "create_time": me.create_time(), "started_at": time.time(),
                         "socket": "/nonexistent", "token": "t", "port": None, "detached": False}
    assert state.supervisor_alive(doc)
    doc["supervisor"]["create_time"] -= 3
    assert not state.supervisor_alive(doc)
    json.dumps(doc)  # the document is plain JSON


def test_liveness_tolerance_agrees_with_the_process_layer():
    from meshcompose.proc import process

    assert state._CREATE_TIME_TOLERANCE == process.CREATE_TIME_TOLERANCE
