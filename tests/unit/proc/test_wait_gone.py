"""`identity.wait_process_gone`: `down` waits for the supervisor's exit, woken
by the exit itself (a pidfd) rather than by its next poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from meshcompose.proc.identity import wait_process_gone


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd_open here (Linux 5.3+ only)")
def test_the_wait_ends_at_the_exit_not_at_a_poll():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    try:
        created = psutil.Process(child.pid).create_time()
        began = time.monotonic()
        assert wait_process_gone(child.pid, created, timeout=120, poll=60.0)
        assert time.monotonic() - began < 30  # woken by the exit: a poll would have slept 60 s
    finally:
        child.kill()
        child.wait()


def test_a_process_that_outlives_the_timeout_is_reported_alive():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        created = psutil.Process(child.pid).create_time()
        assert wait_process_gone(child.pid, created, timeout=0.3) is False
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_counts_as_gone():
    assert wait_process_gone(os.getpid(), psutil.Process().create_time() - 100, timeout=5)
