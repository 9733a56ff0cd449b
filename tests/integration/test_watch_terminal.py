"""Watch mode on a real terminal: Ctrl+C reaches the terminal's foreground
process group, and only mesh-compose (and its agents, through it) may
answer it. Its compile-check helpers are not in that group, so they print no
KeyboardInterrupt traceback."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, _env

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(os.name != "posix", reason="a POSIX terminal")]

AGENT = "import time\nprint('agent up', flush=True)\ntime.sleep(3600)\n"


def _take_the_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # after setsid: the pty becomes this session's terminal


def read_until(controller: int, proc: subprocess.Popen, wanted: bytes, output: bytearray, deadline: float) -> None:
    while wanted not in output:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {wanted!r} in time:\n{output.decode(errors='replace')}")
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                output += os.read(controller, 4096)
            except OSError:
                break
        elif proc.poll() is not None:
            break


def test_ctrl_c_in_watch_mode_prints_no_traceback(tmp_path: Path) -> None:
    project = ProjectDir(tmp_path)
    project.script("app/agent.py", AGENT)
    project.compose({"hello": {"script": "app/agent.py"}})
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "meshcompose", "watch"], cwd=tmp_path, env=_env(),
                            stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
                            start_new_session=True, preexec_fn=_take_the_terminal)
    os.close(terminal)
    output = bytearray()
    try:
        read_until(controller, proc, b"watching", output, time.monotonic() + 90)
        read_until(controller, proc, b"agent up", output, time.monotonic() + 60)
        os.write(controller, b"\x03")  # Ctrl+C: SIGINT to the terminal's foreground group
        end = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < end:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    output += os.read(controller, 4096)
                except OSError:
                    break
        assert proc.wait(timeout=30) in (0, 130, -2), output.decode(errors="replace")
        while True:  # what is left in the terminal
            ready, _, _ = select.select([controller], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
        project.cli("down", "-t", "5", timeout=60)
    text = output.decode(errors="replace")
    assert "KeyboardInterrupt" not in text and "Traceback" not in text, text
