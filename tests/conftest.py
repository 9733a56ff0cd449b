"""Suite-wide guards.

Every process the tests start inherits MESH_COMPOSE_TEST_RUN (a fresh token per
pytest run). At the end, any live process whose environment carries this
run's token was left behind by a test: the run fails and the processes are
killed, so a leak is seen once and never piles up. Processes that escaped
with setsid still carry the token, which is why this looks at environments,
not at the process tree.

Ctrl+C is part of what is tested (`up`, `logs -f`, `run`), so the processes
the tests start must get SIGINT's default action. A suite started in the
background by a non-interactive shell (`scripts/test.sh &`, a CI step run as
a background job) inherits SIGINT ignored, and every child would too: Python
leaves an inherited SIG_IGN in place, so `logs -f` would never see its
Ctrl+C. Restoring the default here means children start with it (a handler,
unlike SIG_IGN, does not survive exec).
"""

from __future__ import annotations

import os
import signal
import uuid

import psutil
import pytest

TOKEN_VAR = "MESH_COMPOSE_TEST_RUN"
TOKEN = os.environ.setdefault(TOKEN_VAR, uuid.uuid4().hex)

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def processes_of_this_run() -> list[psutil.Process]:
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(TOKEN_VAR) == TOKEN:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    leaked = processes_of_this_run()
    if not leaked:
        return
    lines = []
    for proc in leaked:
        try:
            lines.append(f"  pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except psutil.Error:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "processes left behind by the tests (now killed):\n" + "\n".join(lines)
    if reporter:
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
