"""Suite-wide guards.

Every process the tests start inherits MESH_COMPOSE_TEST_RUN (a fresh token per
pytest run). At the end, any live process whose environment carries this
run's token was left behind by a test: the run fails and the processes are
killed, so a leak is seen once and never piles up. Processes that escaped
with setsid still carry the token, which is why this looks at environments,
not at the process tree.
"""

from __future__ import annotations

import os
import uuid

import psutil
import pytest

TOKEN_VAR = "MESH_COMPOSE_TEST_RUN"
TOKEN = os.environ.setdefault(TOKEN_VAR, uuid.uuid4().hex)


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
