"""meshcompose.control.lock: one supervisor per project, decided by the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from meshcompose.control.lock import ProjectLock
from meshcompose.errors import AlreadyRunningError

LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from meshcompose.control.lock import ProjectLock
    from meshcompose.errors import AlreadyRunningError
    project, start_at = Path(sys.argv[1]), float(sys.argv[2])
    time.sleep(max(0.0, start_at - time.time()))
    lock = ProjectLock(project, "demo")
    try:
        lock.acquire()
    except AlreadyRunningError as error:
        print("lost", error.pid, flush=True)
        sys.exit(0)
    print("won", flush=True)
    sys.stdin.read()  # held until the test closes stdin
    lock.release()
""")


def lock_holders(tmp_path: Path, count: int) -> list[subprocess.Popen]:
    start_at = time.time() + 1.0  # all of them try at about the same moment
    return [subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path), str(start_at)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(count)]


def test_of_simultaneous_lockers_exactly_one_wins_and_losers_name_it(tmp_path):
    procs = lock_holders(tmp_path, 8)
    # Each answers once it has tried; a winner holds the lock until every one has answered, so an
    # interpreter that starts late on a loaded machine still tries while the lock is held.
    outputs = {proc.pid: proc.stdout.readline().split() for proc in procs}
    for proc in procs:
        proc.stdin.close()
        assert proc.wait(30) == 0
    winners = [pid for pid, words in outputs.items() if words == ["won"]]
    assert len(winners) == 1, outputs
    losers = [words for words in outputs.values() if words[0] == "lost"]
    assert len(losers) == 7 and all(int(words[1]) == winners[0] for words in losers)


def test_the_lock_dies_with_its_holder(tmp_path):
    (holder,) = lock_holders(tmp_path, 1)
    try:
        assert holder.stdout.readline().strip() == "won"
        with pytest.raises(AlreadyRunningError) as caught:
            ProjectLock(tmp_path, "demo").acquire()
        assert caught.value.pid == holder.pid
        assert f"supervisor pid {holder.pid}" in caught.value.message
    finally:
        holder.kill()
        holder.wait()
    with ProjectLock(tmp_path, "demo") as lock:  # no stale lock after a SIGKILL
        assert lock.held
        assert (tmp_path / ".mesh-compose" / "demo" / "lock").read_text().strip() == str(os.getpid())
    assert not lock.held


def test_is_held_tells_a_held_lock_and_creates_nothing(tmp_path: Path):
    from meshcompose.control.lock import is_held

    assert not is_held(tmp_path, "demo")
    assert not (tmp_path / ".mesh-compose").exists()  # a project that never ran stays untouched
    lock = ProjectLock(tmp_path, "demo")
    with lock:
        assert is_held(tmp_path, "demo")
    assert not is_held(tmp_path, "demo")
