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
