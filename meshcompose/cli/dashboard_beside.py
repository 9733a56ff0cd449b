"""`up --dashboard`: the dashboard started beside the run, as its own
process (`mesh-compose dashboard --exit-with-run`), never inside the
supervisor. It ends when the run's supervisor does; a foreground `up` also
stops it, by pid, when it returns. Its URL (with the token) is read from its
stdout, which no log file receives."""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.model import Project

URL_WAIT_SECONDS = 30.0


def start_beside(args: argparse.Namespace, project: Project, *, wait: bool) -> subprocess.Popen[bytes] | None:
    """The dashboard's process; its URL is printed once it serves. With
    `wait`, that is awaited (None if it could not start, said on stderr);
    without, a thread prints it, so a foreground `up` is not held up."""
    argv = [sys.executable, "-m", "meshcompose", "-p", project.name]
    argv += [option for path in project.files for option in ("-f", str(path))]
    argv += [option for profile in getattr(args, "profiles", None) or () for option in ("--profile", profile)]
    argv += [option for path in getattr(args, "env_files", None) or () for option in ("--env-file", path)]
    argv += ["dashboard", "--exit-with-run"]
    child = subprocess.Popen(argv, cwd=project.directory, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    if wait:
        return child if _announce(child) else None
    threading.Thread(target=_announce, args=(child,), name="dashboard-url", daemon=True).start()
    return child


def _announce(child: subprocess.Popen[bytes]) -> bool:
    from meshcompose.cli.commands.dashboard import URL_PREFIX

    assert child.stdout is not None
    line = _first_line(child.stdout.fileno(), URL_WAIT_SECONDS)
    child.stdout.close()
    if not line.startswith(URL_PREFIX):
        stop(child)
        print("warning: the dashboard did not start; `mesh-compose dashboard` beside the run says why",
              file=sys.stderr)
        return False
    print(f"dashboard: {line[len(URL_PREFIX):].strip()}", file=sys.stderr, flush=True)
    return True


def _first_line(fd: int, timeout: float) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data and len(data) < 4096:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace")


def stop(child: subprocess.Popen[bytes] | None) -> None:
    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
