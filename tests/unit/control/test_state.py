"""The state file: real files, read back from other readers; the supervisor's liveness."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import psutil
import pytest

from meshcompose.control import paths, state
from meshcompose.errors import MeshComposeError
from meshcompose.lifecycle import AgentState

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored(tmp_path: Path, **agents) -> state.StateStore:
    store = state.StateStore(tmp_path, "demo")
    doc = state.new_document("demo", tmp_path, [str(tmp_path / "mesh-compose.yaml")])
    doc["agents"] = {name: state.new_agent(**fields) for name, fields in agents.items()}
    store.write(doc)
    return store


@posix_only
def test_written_state_reads_back_and_is_private(tmp_path):
    store = stored(tmp_path, api={"status": AgentState.RUNNING, "pid": 42, "depends_on": ("db",)})
    doc = state.StateStore(tmp_path, "demo").read()
    assert doc["version"] == 1 and doc["project"] == "demo"
    assert doc["agents"]["api"]["status"] == "running"
    assert doc["agents"]["api"]["depends_on"] == ["db"]
    assert doc["agents"]["api"]["restarts"] == 0  # defaults are filled in
    assert mode(store.path) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["state.json"]  # no temp left


def test_a_project_that_never_ran_has_no_state(tmp_path):
    assert state.StateStore(tmp_path, "demo").read() is None
    assert not (tmp_path / ".mesh-compose").exists()  # reading creates nothing


@pytest.mark.parametrize("content, words", [
    ("{not json", "corrupt"),
    ('{"agents": {}}', "corrupt"),
    ('[1, 2]', "corrupt"),
    ('{"version": 99, "agents": {}}', "newer mesh-compose"),
])
def test_unreadable_state_is_an_error_with_a_hint(tmp_path, content, words):
    paths.state_dir(tmp_path, "demo")
    (tmp_path / ".mesh-compose" / "demo" / "state.json").write_text(content)
    with pytest.raises(MeshComposeError) as caught:
        state.StateStore(tmp_path, "demo").read()
    assert words in caught.value.message and caught.value.hint


@pytest.mark.parametrize("damage", ["random bytes", "nested", "symlink", "sparse 512 MiB", "fifo"])
def test_a_damaged_state_file_is_one_line_error_read_bounded(tmp_path, damage):
    import os

    paths.state_dir(tmp_path, "demo")
    path = tmp_path / ".mesh-compose" / "demo" / "state.json"
    if damage == "random bytes":
        path.write_bytes(os.urandom(4096))
    elif damage == "nested":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif damage == "symlink":
        path.symlink_to(tmp_path / "nowhere.json")  # through it, the project would seem never to have run
    elif damage == "sparse 512 MiB":
        with open(path, "wb") as handle:
            handle.truncate(512 << 20)
    else:
        os.mkfifo(path)  # a read would block for ever
    with pytest.raises(state.DamagedStateError) as caught:
        state.StateStore(tmp_path, "demo").read()
    assert "\n" not in caught.value.message and len(caught.value.message) < 300
    assert str(path) in caught.value.message and caught.value.hint


def test_a_journal_line_never_hides_the_run_it_replaces(tmp_path):
    """A line naming another token keeps the replaced run for `down`; a pid without a token is skipped."""
    store = stored(tmp_path)
    store.update_agent("api", status=AgentState.RUNNING, token="a" * 32, pid=4242, create_time=1.0)
    store.write_now()
    with open(store.spawns_path, "a") as journal:
        journal.write('{"agent": "api", "pid": 1, "create_time": 2.0, "token": null}\n')  # no token: skipped
        journal.write('{"agent": "api", "pid": 7, "create_time": 3.0, "token": "' + "b" * 32 + '"}\n')
    reader = state.StateStore(tmp_path, "demo")
    api = reader.read()["agents"]["api"]
    assert (api["pid"], api["token"]) == (7, "b" * 32)
    assert [(run["pid"], run["token"]) for run in reader.earlier_runs["api"]] == [(4242, "a" * 32)]


def test_updates_are_coalesced_until_flush(tmp_path):
    store = stored(tmp_path)
    for index in range(50):
        store.update_agent(f"a{index}", status=AgentState.STARTING, log_path=f"/logs/a{index}.log")
        store.update_agent(f"a{index}", status=AgentState.RUNNING, pid=1000 + index)
    assert state.StateStore(tmp_path, "demo").read()["agents"] == {}  # nothing written yet
    assert store.flush() is True
    agents = state.StateStore(tmp_path, "demo").read()["agents"]
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
        reader = state.StateStore(tmp_path, "demo")
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


@posix_only
def test_a_spawn_record_is_on_disk_at_once_without_rewriting_the_document(tmp_path):
    store = stored(tmp_path, api={}, db={})
    document_before = store.path.stat().st_mtime_ns, store.path.stat().st_ino
    store.record_spawn("api", token="t-api", cgroup=None)
    store.record_spawn("api", pid=4242, create_time=1234.5, pgid=4242)
    assert (store.path.stat().st_mtime_ns, store.path.stat().st_ino) == document_before  # an append, not a rewrite
    assert mode(store.spawns_path) == 0o600
    api = state.StateStore(tmp_path, "demo").read()["agents"]["api"]  # another process's view
    assert (api["token"], api["pid"], api["create_time"]) == ("t-api", 4242, 1234.5)
    store.flush()  # the document takes the records over and the journal empties
    assert store.spawns_path.read_bytes() == b""
    assert state.StateStore(tmp_path, "demo").read()["agents"]["api"]["pid"] == 4242
    store.close()


def test_spawn_records_are_checked_like_the_document(tmp_path):
    store = stored(tmp_path, api={"pid": 1}, db={})
    store.record_spawn("db", token="t-db")
    with open(store.spawns_path, "a") as journal:  # what a crash or a stranger could leave behind
        journal.write('{"agent": "api", "pid": "1; rm -rf"}\n')  # wrong type
        journal.write('{"agent": "api", "status": "running"}\n')  # not a spawn field
        journal.write('{"agent": "ghost", "pid": 7}\n')  # no such agent
        journal.write('[1, 2]\n{"agent": "api", "pid": 9')  # not a record; torn last line
    agents = state.StateStore(tmp_path, "demo").read()["agents"]
    assert agents["api"]["pid"] == 1 and agents["db"]["token"] == "t-db" and "ghost" not in agents
    with pytest.raises(TypeError, match="status"):
        store.record_spawn("api", status="running")
    store.close()


def test_a_new_document_supersedes_a_previous_runs_journal(tmp_path):
    old = stored(tmp_path, api={})
    old.record_spawn("api", token="old-run")
    old.close()
    stored(tmp_path, api={})  # the next supervisor writes its first document
    assert not (tmp_path / ".mesh-compose" / "demo" / paths.SPAWNS_FILE_NAME).exists()
    assert state.StateStore(tmp_path, "demo").read()["agents"]["api"]["token"] is None
