"""The per-agent cgroup: created, joined, killed and removed for real where a
writable cgroup v2 exists; a recorded path is used only if this module made it."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from meshcompose.proc import cgroup

needs_cgroup = pytest.mark.skipif(cgroup.root() is None, reason="no writable cgroup v2 hierarchy here")


def test_a_recorded_path_is_trusted_only_where_this_module_puts_cgroups():
    token = uuid.uuid4().hex
    assert cgroup.trusted(None, token) is None
    assert cgroup.trusted("/sys/fs/cgroup/unified", token) is None  # a whole hierarchy: never
    assert cgroup.trusted(f"/tmp/mesh-compose/{token}", token) is None  # not a cgroup mount
    assert cgroup.trusted(f"/sys/fs/cgroup/unified/mesh-compose/{token}", uuid.uuid4().hex) is None
    assert cgroup.trusted("/sys/fs/cgroup/unified/mesh-compose/..", "..") is None
    base = cgroup.root()
    if base is not None:
        assert cgroup.trusted(str(base / token), token) == base / token


@needs_cgroup
def test_every_member_is_killed_and_the_cgroup_removed():
    token = uuid.uuid4().hex
    path = cgroup.create(token)
    assert path is not None and cgroup.members(path) == set()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert cgroup.add(path, proc.pid)
        assert cgroup.members(path) == {proc.pid}
        assert cgroup.kill(path) == 1
        assert proc.wait(10) == -9
        assert cgroup.members(path) == set()
        assert cgroup.remove(path) and not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        cgroup.remove(path)


# -- the kernel's limits, on a directory shaped like an agent's cgroup -----------


@pytest.fixture
def fake_cgroup(tmp_path, monkeypatch):
    """An agent cgroup as files, with both limit controllers enabled for it."""
    path = tmp_path / "mesh-compose" / uuid.uuid4().hex
    path.mkdir(parents=True)
    for name in ("memory.max", "memory.swap.max", "memory.oom.group", "cpu.max", "memory.events"):
        (path / name).write_text("max\n" if name.endswith(".max") else "0\n")
    monkeypatch.setattr(cgroup, "limit_controllers", lambda: frozenset({"cpu", "memory"}))
    return path


def test_limits_are_written_into_the_agents_cgroup(fake_cgroup):
    held = cgroup.limit(fake_cgroup, memory=100_000_000, cpu=0.25)
    assert held == {"cpu", "memory"}
    assert (fake_cgroup / "memory.max").read_text() == "100000000\n"
    assert (fake_cgroup / "memory.swap.max").read_text() == "0\n"  # no way around it through swap
    assert (fake_cgroup / "memory.oom.group").read_text() == "1\n"  # the whole agent ends together
    assert (fake_cgroup / "cpu.max").read_text() == "25000 100000\n"


def test_a_tiny_cpu_limit_gets_the_kernels_smallest_quota(fake_cgroup):
    assert cgroup.limit(fake_cgroup, memory=None, cpu=0.001) == {"cpu"}
    assert (fake_cgroup / "cpu.max").read_text() == "1000 100000\n"
    assert (fake_cgroup / "memory.max").read_text() == "max\n"


def test_only_the_limits_the_hierarchy_offers_hold(fake_cgroup, monkeypatch):
    monkeypatch.setattr(cgroup, "limit_controllers", lambda: frozenset({"memory"}))
    assert cgroup.limit(fake_cgroup, memory=1 << 20, cpu=0.5) == {"memory"}
    assert (fake_cgroup / "cpu.max").read_text() == "max\n"  # left to the sampled fallback
    assert cgroup.limit(None, memory=1 << 20, cpu=0.5) == frozenset()


def test_an_oom_kill_is_read_from_memory_events(fake_cgroup):
    events = fake_cgroup / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n")
    assert not cgroup.oom_killed(fake_cgroup)
    events.write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 3\noom_group_kill 1\n")
    assert cgroup.oom_killed(fake_cgroup)
    assert not cgroup.oom_killed(None)
    events.unlink()
    assert not cgroup.oom_killed(fake_cgroup)  # removed with its agent: nothing to tell


def test_the_controllers_are_enabled_only_in_our_own_cgroup(tmp_path, monkeypatch):
    base = tmp_path / "mesh-compose"
    base.mkdir()
    (base / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (base / "cgroup.subtree_control").write_text("cpu memory\n")
    monkeypatch.setattr(cgroup, "root", lambda: base)
    cgroup.limit_controllers.cache_clear()
    try:
        assert cgroup.limit_controllers() == {"cpu", "memory"}
        (base / "cgroup.controllers").write_text("hugetlb\n")  # a hybrid hierarchy: memory and cpu are v1's
        cgroup.limit_controllers.cache_clear()
        assert cgroup.limit_controllers() == frozenset()
    finally:
        cgroup.limit_controllers.cache_clear()
