"""`ps --watch`: the table redrawn in place until Ctrl+C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cli_helpers import ok

HOME = b"\x1b[H"


def test_ps_watch_redraws_in_place_until_ctrl_c(project) -> None:  # type: ignore[no-untyped-def]
    project.script("idle.py", "import time\ntime.sleep(60)\n")
    project.compose({"a": {"script": "idle.py"}, "b": {"script": "idle.py"}})
    ok(project.cli("up", "-d"))
    watch = subprocess.Popen([sys.executable, "-m", "meshcompose", "ps", "--watch", "-a"], cwd=project.root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    try:
        assert watch.stdout is not None
        seen = b""

        def read_until(check, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
            nonlocal seen
            deadline = time.monotonic() + timeout
            while not check(seen):
                assert time.monotonic() < deadline, seen.decode(errors="replace")
                seen += os.read(watch.stdout.fileno(), 65536)

        read_until(lambda out: out.count(HOME) >= 2)
        first = seen.split(HOME)[1].decode()
        assert "NAME" in first and "STATUS" in first and "\na " in first.replace("\x1b[K", "")
        ok(project.cli("stop", "b"))
        mark = seen.count(HOME)
        read_until(lambda out: out.count(HOME) > mark and b"exited" in out.split(HOME)[-1])
        watch.send_signal(signal.SIGINT)
        assert watch.wait(15) == 0
        assert b"Traceback" not in watch.stderr.read()  # type: ignore[union-attr]
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
        ok(project.cli("down"))
