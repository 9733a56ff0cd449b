"""meshcompose.proc.tree: which processes are an agent's, and what they use.

Real process trees: a leader whose children inherit its token, a child with a
fresh environment, a group member whose parent died, and grandchildren that
escaped with setsid. `ps` (`tree_usage`), the memory limit (`ResourceWatcher`)
and a stop (`process.tree`) must all see the same processes and, for `ps` and
the limit, the same numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from meshcompose.model import Resources
from meshcompose.proc import process
from meshcompose.proc import tree as proctree
from meshcompose.proc.identity import ProcessIdentity
from meshcompose.runtime.resources import ResourceWatcher
from meshcompose.units import format_size

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(os.name != "posix", reason="POSIX process groups")]
MiB = 1024 * 1024

# Holds MEGABYTES (argv[1]) of touched memory, then marks argv[2] and sleeps.
HOLD = ("import sys, time\nb = bytearray(int(sys.argv[1]) << 20)\nb[::4096] = b'x' * len(b[::4096])\n"
        "open(sys.argv[2], 'w').close()\ntime.sleep(60)\n")

# The agent: every way a process can belong to it.
LEADER = """
import os, subprocess, sys, time
hold, marks = sys.argv[1], sys.argv[2]
def start(megabytes, name, **options):
    return subprocess.Popen([sys.executable, hold, str(megabytes), os.path.join(marks, name)], **options)
fresh = {"PATH": os.environ.get("PATH", "")}
start(40, "inherits")                                  # a child: token, group, descendant
start(20, "fresh", env=fresh)                          # a descendant only: no token
# Their parents exit at once, so these two are nobody's descendants any more:
subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:])",
                  sys.executable, hold, "10", os.path.join(marks, "orphan")], env=fresh).wait()  # group only
subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:], start_new_session=True)",
                  sys.executable, hold, "30", os.path.join(marks, "escaped")]).wait()          # token only
while len(os.listdir(marks)) < 4:
    time.sleep(0.02)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[ProcessIdentity, str]]:
    (tmp_path / "hold.py").write_text(HOLD)
    (tmp_path / "leader.py").write_text(LEADER)
    (tmp_path / "marks").mkdir()
    token = process.new_token()
    leader = subprocess.Popen([sys.executable, str(tmp_path / "leader.py"), str(tmp_path / "hold.py"),
                               str(tmp_path / "marks")], env={**os.environ, process.TOKEN_VAR: token},
                              stdout=subprocess.PIPE, start_new_session=True)
    ident = process.identity(leader.pid)
    try:
        assert leader.stdout.readline().strip() == b"ready"
        yield ident, token
    finally:
        process.kill_tree(ident, token)
        leader.wait(10)


def test_every_way_of_belonging_is_counted_and_nothing_else(agent):
    ident, token = agent
    usage = proctree.tree_usage({"a": agent})["a"]
    assert len(usage.pids) == usage.processes == 5  # leader, inherits, fresh, orphan, escaped
    assert usage.pids[0] == ident.pid and os.getpid() not in usage.pids
    assert 100 * MiB <= usage.rss <= 200 * MiB  # 40 + 20 + 10 + 30 MiB, plus five interpreters
    assert usage.cpu_seconds > 0 and 0 < usage.cpu_percent(ident.create_time) < 400
    # ...and a pid now used by another process (a different create time) finds only the token's share
    stranger = proctree.tree_usage({"a": (ProcessIdentity(ident.pid, ident.create_time - 3600), None)})["a"]
    assert stranger.pids == ()


def test_ps_and_the_memory_limit_give_the_same_figures(agent):
    """The watcher's sampler remembers processes across ticks; `ps` scans afresh. Same tree, same numbers."""
    ident, token = agent
    seen = []

    async def watch() -> None:
        watcher = ResourceWatcher(period=0.05)
        async with anyio.create_task_group() as tg:
            await tg.start(watcher.run)
            got = anyio.Event()

            async def on_breach(breach) -> None:
                seen.append(breach)
                got.set()

            watcher.watch("a", ident, token, Resources(memory_limit=1), on_breach)
            with anyio.fail_after(10):
                await got.wait()
            tg.cancel_scope.cancel()

    anyio.run(watch)
    ps = proctree.tree_usage({"a": agent})["a"]
    assert f"summed RSS of {ps.processes} process(es)" in seen[0].detail
    assert seen[0].message == f"memory limit {format_size(1)} exceeded: {format_size(ps.rss)}"
    warm = proctree.TreeSampler()
    warm.sample({"a": agent})
    assert warm.sample({"a": agent})["a"].pids == ps.pids  # a remembering sampler finds the same


def test_a_stop_kills_exactly_what_ps_and_the_limit_count(agent):
    ident, token = agent
    counted = set(proctree.tree_usage({"a": agent})["a"].pids)
    assert {proc.pid for proc in process.tree(ident, token)} == counted
    assert process.kill_tree(ident, token) == len(counted)
    deadline = time.monotonic() + 5
    while proctree.tree_usage({"a": agent})["a"].processes and time.monotonic() < deadline:
        time.sleep(0.05)
    left = proctree.tree_usage({"a": agent})["a"]
    assert (left.processes, left.rss) == (0, 0)  # zombies (not yet reaped) hold nothing
    assert process.tree(ident, token) == []


def test_a_process_caught_in_the_middle_of_exec_is_never_missed():
    # Right after Popen returns, Linux can still show the child's environment
    # as empty for a moment; a stop scanning then must not miss it.
    missed = []
    for _ in range(50):
        token = process.new_token()
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                                 env={**os.environ, process.TOKEN_VAR: token}, start_new_session=True)
        try:
            if proctree.IS_LINUX:
                first_look = proctree.read_entry(child.pid)
                if first_look is not proctree.UNDECIDED and first_look.token != token:
                    missed.append(child.pid)
            if [p.pid for p in process.tree(None, token)] != [child.pid]:
                missed.append(child.pid)
        finally:
            child.kill()
            child.wait()
    assert missed == []


ALLOCATE_AND_ESCAPE = """
import os, subprocess, sys, time
blob = bytearray(60 * 1024 * 1024)
for i in range(0, len(blob), 4096):
    blob[i] = 1
subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(40 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"],
                 start_new_session=True)
print("ready", flush=True)
time.sleep(30)
"""


def test_tree_sampler_sums_leader_and_escaped_grandchild():
    token = process.new_token()
    env = {**os.environ, process.TOKEN_VAR: token}
    leader = subprocess.Popen([sys.executable, "-c", ALLOCATE_AND_ESCAPE], env=env, stdout=subprocess.PIPE,
                              start_new_session=True)
    ident = process.identity(leader.pid)
    try:
        assert leader.stdout.readline().strip() == b"ready"
        sampler = proctree.TreeSampler()
        deadline = time.monotonic() + 10
        while True:
            usage = sampler.sample({"a": (ident, token)})["a"]
            if usage.rss >= 100 * 1024**2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert usage.processes == 2
        assert 100 * 1024**2 <= usage.rss <= 200 * 1024**2
    finally:
        process.kill_tree(ident, token)
        leader.wait()


# An agent whose leader exits at once, leaving a child that escaped its group
# (it carries the token only); the leader prints the child's pid.
EXITING_LEADER = ("import subprocess, sys\n"
                  "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
                  "start_new_session=True)\nprint(child.pid, flush=True)\n")


def exited_agent() -> tuple[ProcessIdentity, str, int]:
    """Started, and its leader already exited and reaped: (identity, token, escaped child's pid)."""
    token = process.new_token()
    leader = subprocess.Popen([sys.executable, "-c", EXITING_LEADER], env={**os.environ, process.TOKEN_VAR: token},
                              stdout=subprocess.PIPE, start_new_session=True)
    ident = process.identity(leader.pid)
    child = int(leader.stdout.readline())
    leader.wait(10)
    leader.stdout.close()
    assert ident is not None
    return ident, token, child


def test_one_scan_begun_after_their_leaders_exited_serves_every_agent_that_stopped():
    agents = [exited_agent() for _ in range(3)]
    born = max(ident.create_time for ident, _, _ in agents)
    while time.time() < born + 1.1:  # the rule wants leaders surely born before the scan (create times are coarse)
        time.sleep(0.05)
    try:
        first = proctree.scan_after_exit(agents[0][0])
        assert all(proctree.scan_after_exit(ident) is first for ident, _, _ in agents)  # one scan for all
        for ident, token, child in agents:
            assert first.members(ident, token) == {child}
            assert process.kill_tree(ident, token, leader_exited=True) == 1
    finally:
        for ident, token, _ in agents:
            process.kill_tree(ident, token)


def test_a_scan_begun_before_an_agent_was_born_never_serves_it():
    proctree.scan_after_exit(None)  # the table a stop just took
    ident, token, child = exited_agent()
    try:
        table = proctree.scan_after_exit(ident)
        assert child in table.members(ident, token)  # a fresh scan: the earlier one predates the child
        assert process.kill_tree(ident, token, leader_exited=True) == 1
        assert not process.tree(ident, token)
    finally:
        process.kill_tree(ident, token)
