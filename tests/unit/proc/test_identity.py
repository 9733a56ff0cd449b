"""meshcompose.proc.identity: a recorded pid is alive only while it is still
the process that was recorded (create time) and not a zombie."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from meshcompose.control import state
from meshcompose.proc import identity, process

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX zombies")


def test_process_alive_checks_pid_and_create_time():
    me = psutil.Process()
    assert identity.process_alive(me.pid, me.create_time())
    assert not identity.process_alive(me.pid, me.create_time() - 5)  # a reused pid
    assert not identity.process_alive(None, None)


@posix_only
def test_a_zombie_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(child.pid).create_time()
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert not identity.process_alive(child.pid, created)
        assert not identity.is_alive(identity.ProcessIdentity(child.pid, created))
        assert identity.identity(child.pid) is not None  # a zombie still has an identity
    finally:
        child.wait()


@pytest.mark.parametrize("offset, alive", [(0.0, True), (0.5, True), (-0.5, True), (5.0, False), (-5.0, False)])
def test_ps_down_and_the_process_layer_agree_on_which_pids_are_ours(offset, alive):
    """`ps` (state.supervisor_alive) and a stop (process.is_alive) see the same process."""
    me = psutil.Process()
    recorded = me.create_time() + offset
    doc = state.new_document("demo", ".", [])
    doc["supervisor"] = {"pid": me.pid, "create_time": recorded, "started_at": 0.0, "socket": "",
                         "token": "", "port": None, "detached": False}
    assert state.supervisor_alive(doc) is alive
    assert process.is_alive(process.ProcessIdentity(me.pid, recorded)) is alive


def test_a_signal_needs_the_token_where_readable_else_the_exact_create_time():
    from meshcompose.proc.identity import ProcessIdentity, belongs

    recorded = ProcessIdentity(4242, 1000.0)
    # A readable token decides, whatever the create time says.
    assert belongs(recorded, "tok", 1000.7, "tok", readable=True)
    assert not belongs(recorded, "tok", 1000.0, "other", readable=True)
    # A readable environment without the token is not the agent's, even at the exact create time
    # (a forged record naming an unrelated process of the same user).
    assert not belongs(recorded, "tok", 1000.5, None, readable=True)
    assert not belongs(recorded, "tok", 1000.0, None, readable=True)
    # An unreadable environment (another user, mid-exec): the exact create time, not within 1 s.
    assert belongs(recorded, "tok", 1000.0, None, readable=False)
    assert not belongs(recorded, "tok", 1000.5, None, readable=False)
    # A record without a token never names a process to signal.
    assert not belongs(recorded, None, 1000.0, None, readable=False)
    assert not belongs(recorded, None, 1000.0, "tok", readable=True)
    assert not belongs(recorded, "", 1000.0, None, readable=False)
