"""Driving a program on a real pseudo-terminal: the install prompt answers only a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time


def run_in_pty(argv, reply: bytes, deadline: float = 60.0):
    """Run `argv` on a pty, type `reply` once it asks "Choice [", return (exit code, everything it wrote)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    output, sent, end = b"", False, time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the terminal closed: the child is gone
                    break
                output += chunk
            if not sent and b"Choice [" in output:
                os.write(controller, reply)
                sent = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=10), output.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)


def output_on_pty(argv, *, cwd, env, deadline: float = 60.0) -> tuple[int, bytes]:
    """Run `argv` with a pty as its terminal until it exits; (exit code, the bytes the terminal received)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=terminal, stdout=terminal, stderr=terminal,
                            close_fds=True)
    os.close(terminal)
    output, end = b"", time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: the child is gone
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
