"""The process layer against real processes: groups, escaped grandchildren,
pid reuse, zombies, grace periods, and the Windows branch through its seam."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import psutil
import pytest

from meshcompose.errors import AgentStartError, ConfigError, ProcessError
from meshcompose.proc import platform as platform
from meshcompose.proc import process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


IGNORES_TERM = """
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(60)
"""

EXITS_ON_TERM = """
    import signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
    print("ready", flush=True)
    time.sleep(60)
"""

# Starts a grandchild in its own session (so it leaves the agent's group and,
# once its parent dies, the agent's tree), records its pid, then waits.
ESCAPING_GRANDCHILD = """
    import os, signal, subprocess, sys, time
    child = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
        start_new_session=True,
    )
    open(sys.argv[1], "w").write(str(child.pid))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    time.sleep(60)
"""


def write_script(tmp_path: Path, body: str, name: str = "agent.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


async def start(tmp_path: Path, body: str, *args: str, token: str | None = None):
    script = write_script(tmp_path, body)
    env = dict(os.environ)
    if token:
        env[process.TOKEN_VAR] = token
    proc = await process.spawn([sys.executable, "-u", str(script), *args], cwd=tmp_path, env=env)
    with anyio.fail_after(10):
        assert (await proc.stdout.receive()).startswith(b"ready")
    return proc, process.identity(proc.pid)


def recorded_pid(path: Path) -> process.ProcessIdentity:
    ident = process.identity(int(path.read_text()))
    assert ident is not None and process.is_alive(ident)
    return ident


def wait_dead(ident: process.ProcessIdentity, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while process.is_alive(ident):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- spawn ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_spawn_gives_own_session_devnull_stdin_and_separate_pipes(tmp_path):
    body = """
        import os, sys
        sys.stdout.write("out:%d:%d:%r\\n" % (os.getsid(0), os.getpgid(0), sys.stdin.read()))
        sys.stderr.write("err\\n")
    """
    script = write_script(tmp_path, body)
    proc = await process.spawn([sys.executable, str(script)], cwd=tmp_path, env=dict(os.environ))
    async with proc:
        out = b"".join([chunk async for chunk in proc.stdout]).decode()
        err = b"".join([chunk async for chunk in proc.stderr]).decode()
        assert await proc.wait() == 0
    assert out.strip() == f"out:{proc.pid}:{proc.pid}:''"
    assert err.strip() == "err"


@pytest.mark.anyio
async def test_spawn_runs_in_cwd_with_exactly_the_given_environment(tmp_path):
    script = write_script(tmp_path, "import os; print(os.getcwd(), os.environ.get('PROBE'), os.environ.get('HOME'))")
    env = {**os.environ, "PROBE": "yes"}
    env.pop("HOME", None)
    proc = await process.spawn([sys.executable, str(script)], cwd=tmp_path, env=env)
    async with proc:
        out = b"".join([chunk async for chunk in proc.stdout]).decode().split()
        await proc.wait()
    assert out == [str(tmp_path), "yes", "None"]


@pytest.mark.anyio
async def test_spawn_reports_missing_executable(tmp_path):
    with pytest.raises(AgentStartError) as caught:
        await process.spawn([str(tmp_path / "no-such-python"), "x.py"], cwd=tmp_path, env=dict(os.environ))
    assert "no-such-python" in caught.value.message and "not found" in caught.value.message


@pytest.mark.anyio
async def test_spawn_reports_missing_working_directory(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(AgentStartError) as caught:
        await process.spawn([sys.executable, "-c", "pass"], cwd=missing, env=dict(os.environ))
    assert str(missing) in caught.value.message and caught.value.hint


@pytest.mark.anyio
async def test_spawn_never_uses_a_shell(tmp_path):
    proc = await process.spawn(
        [sys.executable, "-c", "import sys; print(sys.argv[1])", "$HOME; echo hi"],
        cwd=tmp_path, env=dict(os.environ),
    )
    async with proc:
        out = b"".join([chunk async for chunk in proc.stdout]).decode()
        await proc.wait()
    assert out.strip() == "$HOME; echo hi"


# -- identity ---------------------------------------------------------------------


def test_identity_of_a_gone_pid_is_none():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert process.identity(proc.pid) is None
    assert not process.is_alive(process.ProcessIdentity(proc.pid, time.time()))


def test_zombie_counts_as_dead():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        ident = process.identity(proc.pid)
        deadline = time.monotonic() + 10
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "child never exited"
            time.sleep(0.02)
        assert psutil.pid_exists(proc.pid)  # what a naive check would trust
        assert not process.is_alive(ident)
        assert not process.signal_group(ident, "SIGTERM")
    finally:
        proc.wait()


@pytest.mark.anyio
async def test_a_reused_pid_is_left_alone(tmp_path):
    proc, ident = await start(tmp_path, IGNORES_TERM)
    async with proc:
        impostor = process.ProcessIdentity(ident.pid, ident.create_time - 3600)
        assert process.is_alive(ident) and not process.is_alive(impostor)
        assert process.signal_group(impostor, "SIGKILL") is False
        assert process.kill_tree(impostor, None) == 0
        assert process.tree(impostor, None) == []
        with anyio.move_on_after(0.5):
            await proc.wait()
        assert proc.returncode is None and process.is_alive(ident)
        assert process.kill_tree(ident, None) == 1
        assert await proc.wait() == -signal.SIGKILL


def test_unknown_signal_name_is_the_process_layers_own_error():
    with pytest.raises(ProcessError) as caught:
        process.signal_group(process.ProcessIdentity(1, 0.0), "SIGFOO")
    assert "SIGFOO" in caught.value.message
    assert not isinstance(caught.value, ConfigError)  # a state file, not the project, named it


# -- trees and tokens -------------------------------------------------------------


@pytest.mark.anyio
async def test_tree_and_kill_tree_find_a_setsid_grandchild_by_token(tmp_path):
    token = process.new_token()
    proc, ident = await start(tmp_path, ESCAPING_GRANDCHILD, str(tmp_path / "gc.pid"), token=token)
    async with proc:
        grandchild = recorded_pid(tmp_path / "gc.pid")
        assert os.getsid(grandchild.pid) == grandchild.pid  # really left the session
        assert {p.pid for p in process.tree(ident, token)} == {ident.pid, grandchild.pid}
        assert {p.pid for p in process.tree(None, token)} == {ident.pid, grandchild.pid}
        assert process.kill_tree(ident, token) == 2
        assert await proc.wait() == -signal.SIGKILL
        assert await anyio.to_thread.run_sync(wait_dead, grandchild)
        assert process.kill_tree(ident, token) == 0


# -- stop_group -----------------------------------------------------------------


@pytest.mark.anyio
async def test_stop_returns_the_exit_code_of_a_graceful_exit(tmp_path):
    token = process.new_token()
    proc, ident = await start(tmp_path, EXITS_ON_TERM, token=token)
    async with proc:
        began = time.monotonic()
        forced = await process.stop_group(ident, token, stop_signal="SIGTERM", grace=10, exited=proc.wait)
    assert not forced and proc.returncode == 7
    assert time.monotonic() - began < 5  # did not sit out the grace period


@pytest.mark.anyio
async def test_process_ignoring_sigterm_is_killed_right_after_grace(tmp_path):
    token = process.new_token()
    proc, ident = await start(tmp_path, IGNORES_TERM, token=token)
    async with proc:
        began = time.monotonic()
        forced = await process.stop_group(ident, token, stop_signal="SIGTERM", grace=1.0, exited=proc.wait)
        elapsed = time.monotonic() - began
    assert forced and proc.returncode == -signal.SIGKILL
    assert 0.9 <= elapsed < 4.0, elapsed  # after the 1 s grace, not after 10 s
    assert not process.is_alive(ident)


@pytest.mark.anyio
async def test_setsid_grandchild_is_gone_after_stop(tmp_path):
    token = process.new_token()
    proc, ident = await start(tmp_path, ESCAPING_GRANDCHILD, str(tmp_path / "gc.pid"), token=token)
    async with proc:
        grandchild = recorded_pid(tmp_path / "gc.pid")
        forced = await process.stop_group(ident, token, stop_signal="SIGTERM", grace=5, exited=proc.wait)
    assert not forced and proc.returncode == 0  # the leader left gracefully; the grandchild ignored SIGTERM
    assert not process.is_alive(grandchild)
    assert process.tree(ident, token) == []


@pytest.mark.anyio
async def test_stop_still_completes_inside_a_cancelled_scope(tmp_path):
    token = process.new_token()
    proc, ident = await start(tmp_path, IGNORES_TERM, token=token)
    async with proc:
        with anyio.CancelScope() as scope:
            scope.cancel()
            forced = await process.stop_group(ident, token, stop_signal="SIGTERM", grace=0.3, exited=proc.wait)
        assert forced and proc.returncode == -signal.SIGKILL
    assert not process.is_alive(ident)


@pytest.mark.anyio
async def test_stop_of_an_already_exited_process_returns_its_code(tmp_path):
    proc = await process.spawn([sys.executable, "-c", "raise SystemExit(3)"], cwd=tmp_path, env=dict(os.environ))
    async with proc:
        ident = process.identity(proc.pid)
        assert await proc.wait() == 3
        assert not await process.stop_group(ident, None, stop_signal="SIGTERM", grace=5, exited=proc.wait)
        assert proc.returncode == 3


# -- the Windows branch, through the platform seam ------------------------------------


@pytest.fixture
def as_windows(monkeypatch):
    """Switches the platform seam to Windows; returns the console events sent.
    Call it after spawning: the real spawn here is still a POSIX one."""
    sent = []
    real_kill = os.kill

    def fake_kill(pid, sig):
        if sig == platform.CTRL_BREAK_EVENT:
            sent.append((pid, sig))  # a console event; POSIX would read it as a signal
        else:
            real_kill(pid, sig)

    def switch():
        monkeypatch.setattr(platform, "IS_WINDOWS", True)
        monkeypatch.setattr(platform.os, "kill", fake_kill)
        return sent

    return switch


def test_windows_spawns_in_a_new_process_group(as_windows):
    as_windows()
    assert platform.spawn_options() == {"creationflags": platform.CREATE_NEW_PROCESS_GROUP}


@pytest.mark.anyio
async def test_windows_stop_sends_ctrl_break_then_terminates_the_tree_after_grace(tmp_path, as_windows):
    token = process.new_token()
    body = """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(sys.argv[1], "w").write(str(child.pid))
        print("ready", flush=True)
        time.sleep(60)
    """
    proc, ident = await start(tmp_path, body, str(tmp_path / "child.pid"), token=token)
    async with proc:
        child = recorded_pid(tmp_path / "child.pid")
        windows = as_windows()
        began = time.monotonic()
        forced = await process.stop_group(ident, token, stop_signal="SIGINT", grace=0.5, exited=proc.wait)
        elapsed = time.monotonic() - began
    assert windows == [(ident.pid, platform.CTRL_BREAK_EVENT)]  # not SIGINT: useless on Windows
    assert forced and proc.returncode == -signal.SIGKILL and 0.4 <= elapsed < 4
    assert await anyio.to_thread.run_sync(wait_dead, child)
