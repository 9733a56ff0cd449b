"""The platform process layer: spawn, identify, signal and kill agent processes.

Three rules hold everywhere here:

- A pid alone never identifies a process (pids are reused): every signal
  goes through a `ProcessIdentity` (pid + create time) that must still match.
- An agent's "tree" is more than its descendants: a grandchild that called
  setsid() and was reparented to init is no longer anyone's descendant. Each
  agent therefore runs with a unique token in its environment (`TOKEN_VAR`),
  which every process it starts inherits; a scan for that token finds the
  escapees, even from a later `down` after the supervisor died by SIGKILL.
  Which processes are the agent's is defined once, in `proc.tree`.
- Where cgroup v2 is writable (Linux), each agent run also has a cgroup
  (`proc.cgroup`) that a child cannot leave, not even one that called
  setsid() and cleared its environment: every member is killed with the rest.
- Before any signal to a recorded pid, the process must still be the agent's
  (`identity.belongs`: its token where readable, else its exact create time).
- A zombie is dead: it counts as gone and is never waited on here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Callable

import anyio
import anyio.abc
import psutil

from meshcompose.errors import AgentStartError
from meshcompose.proc import cgroup as cgroups
from meshcompose.proc import platform
from meshcompose.proc import tree as proctree

# The process layer's vocabulary, re-exported for its callers.
from meshcompose.proc.identity import CREATE_TIME_TOLERANCE as CREATE_TIME_TOLERANCE
from meshcompose.proc.identity import TOKEN_VAR as TOKEN_VAR
from meshcompose.proc.identity import ProcessIdentity as ProcessIdentity
from meshcompose.proc.identity import identity as identity
from meshcompose.proc.identity import is_alive as is_alive
from meshcompose.proc.identity import matching as matching
from meshcompose.proc.identity import new_token as new_token
from meshcompose.proc.identity import running as running

# After SIGKILL, how long to wait for the leader and the leftovers to vanish.
KILL_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05


# -- spawning -----------------------------------------------------------------

# Called with (agent, stream, read fd) for each output pipe of every spawned
# process, so a log keeper can hold the pipe open beyond the supervisor's
# life (see logs.keeper); set by the run's session, None otherwise.
OutputKeeper = Callable[[str, str, int], None]
_output_keeper: OutputKeeper | None = None


def set_output_keeper(keeper: OutputKeeper | None) -> None:
    global _output_keeper
    _output_keeper = keeper


def _keep_output(proc: anyio.abc.Process, agent: str) -> None:
    """Hand the read ends of `proc`'s stdout and stderr pipes to the keeper.

    anyio does not expose a pipe's descriptor; with the asyncio backend it is
    the pipe transport's. When that is not reachable, the agent simply is not
    protected against a supervisor death (as before)."""
    if _output_keeper is None:
        return
    try:
        transport = proc._process._transport  # type: ignore[attr-defined]
        pipes = {"out": transport.get_pipe_transport(1), "err": transport.get_pipe_transport(2)}
        for stream, pipe in pipes.items():
            _output_keeper(agent, stream, pipe.get_extra_info("pipe").fileno())
    except (AttributeError, OSError, ValueError):
        pass


async def spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> anyio.abc.Process:
    """Start `argv` (never through a shell) as the leader of its own group."""
    if not argv:
        raise AgentStartError("nothing to run: the command is empty")
    if not Path(cwd).is_dir():
        raise AgentStartError(
            f"working directory {cwd} does not exist or is not a directory",
            hint="fix working_dir in the project file",
        )
    try:
        proc = await anyio.open_process(
            list(argv), cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **platform.spawn_options(),
        )
        _keep_output(proc, env.get("MESH_COMPOSE_AGENT", argv[0]))
        return proc
    except FileNotFoundError:
        raise AgentStartError(
            f"executable {argv[0]!r} not found",
            hint="check the interpreter or command; a bare name is looked up on PATH",
        ) from None
    except PermissionError:
        raise AgentStartError(f"executable {argv[0]!r} is not executable (permission denied)") from None
    except OSError as error:
        raise AgentStartError(f"could not start {argv[0]!r}: {error.strerror or error}") from None


# -- signalling ---------------------------------------------------------------


def signal_group(ident: ProcessIdentity | None, sig: int | str, token: str | None = None) -> bool:
    """Send `sig` to the group `ident` leads; False if it is no longer running,
    or no longer surely the agent's (`identity.belongs`, checked with `token`).

    On Windows every stop signal becomes CTRL_BREAK_EVENT (see process_platform).
    """
    name = platform.signal_name(sig)
    if ident is None or not is_alive(ident, token, to_signal=True):
        return False
    try:
        platform.send_to_group(ident.pid, name)
    except (OSError, psutil.Error):
        return False  # gone in between, or no longer ours to signal
    return True


def tree(ident: ProcessIdentity | None, token: str | None, cgroup: Path | None = None, *,
         exited: bool = False) -> list[psutil.Process]:
    """Every live process of the agent (`proc.tree`: the leader, its group,
    its token carriers and their descendants; and its cgroup's members),
    from a fresh scan, or (`exited`: the leader is known to have exited) from
    any recent scan that began after it did (`proc.tree.scan_after_exit`)."""
    if ident is None and not token and cgroup is None:
        return []  # nothing recorded to find it by
    in_cgroup = cgroups.members(cgroup)
    table = proctree.scan_after_exit(ident) if exited else proctree.scan(settle=bool(token))
    me = os.getpid()
    found = []
    for pid in sorted(table.members(ident, token) | in_cgroup):
        entry = table.entries.get(pid)
        if pid == me or entry is None or entry.zombie:
            continue
        try:
            member = psutil.Process(pid)
            if abs(member.create_time() - entry.create_time) > CREATE_TIME_TOLERANCE:
                continue  # the pid was reused since the scan: not the agent's
            found.append(member)
        except psutil.Error:
            continue  # gone since the scan
    return found


def kill_tree(ident: ProcessIdentity | None, token: str | None, cgroup: Path | None = None, *,
              leader_exited: bool = False) -> int:
    """SIGKILL the agent's group, every descendant, every token carrier and
    every member of its cgroup. `leader_exited`: the caller saw the leader
    exit (waited for it), so a scan begun since then may serve the first round.

    Returns how many live processes were killed. Repeats while a round still
    finds someone, since a dying tree may fork once more before its end.
    """
    killed: set[int] = set()
    for attempt in range(3):
        victims = tree(ident, token, cgroup, exited=attempt == 0 and leader_exited)
        if not victims:
            break
        cgroups.kill(cgroup)
        leader = matching(ident, token, to_signal=True)
        if leader is not None:
            _quietly(platform.kill_group, leader.pid)
        for proc in victims:
            _quietly(proc.kill)  # psutil refuses if the pid was reused meanwhile
        killed.update(proc.pid for proc in victims)
    _reap_adopted(killed - {ident.pid if ident else 0})
    return len(killed)


def _reap_adopted(pids: Iterable[int]) -> None:
    """Collect the killed processes that became our children (we are a child
    subreaper, `platform.become_subreaper`), so they do not stay zombies. Never
    the leader: its exit status belongs to whoever spawned it. Only in a
    subreaper: elsewhere a child of ours in the tree is one we spawned."""
    if not platform.is_subreaper():
        return
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _quietly(action: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
        action(*args)


# -- stopping -------------------------------------------------------------------


async def stop_group(
    ident: ProcessIdentity | None,
    token: str | None,
    *,
    stop_signal: str,
    grace: float,
    exited: Callable[[], Awaitable[object]] | None = None,
    on_kill: Callable[[], None] | None = None,
    cgroup: Path | None = None,
) -> bool:
    """The graceful stop, for the live supervisor and for `down` reaping a dead
    one's agents alike: `stop_signal` to the agent's group, up to `grace`
    seconds for the leader to exit, then SIGKILL for the group, every
    descendant, every token carrier and every member of its `cgroup`.
    Returns True if it had to kill.

    `exited` waits for the leader: its owner's wait (the supervisor must reap
    its own child), or by default a poll until `ident` is gone (a reaper's
    agents are init's children). Shielded from cancellation and time-boxed,
    so it is safe in a `finally` of a cancelled task. Whatever the leader
    leaves behind (a setsid'ed grandchild) goes too.
    """
    if exited is None:
        exited = partial(wait_gone, ident)
    with anyio.CancelScope(shield=True):
        signal_group(ident, stop_signal, token)
        with anyio.move_on_after(grace) as waiting:
            await exited()
        gone = not waiting.cancelled_caught
        forced = not gone
        if forced:
            if on_kill is not None:
                on_kill()
            kill_tree(ident, token, cgroup)
            with anyio.move_on_after(KILL_WAIT_SECONDS) as killing:
                await exited()
            gone = not killing.cancelled_caught
        await kill_tree_and_wait(ident, token, cgroup, leader_exited=gone)
    return forced


async def wait_gone(ident: ProcessIdentity | None) -> None:
    """Until `ident` is no longer a live process (gone, a zombie, or reused)."""
    while is_alive(ident):
        await anyio.sleep(POLL_SECONDS)


async def kill_tree_and_wait(ident: ProcessIdentity | None, token: str | None,
                             cgroup: Path | None = None, *, leader_exited: bool = False) -> None:
    """`kill_tree`, then wait (time-boxed) until a scan finds nothing alive:
    SIGKILL is delivered asynchronously, and a caller that says "gone" must mean it."""
    with anyio.move_on_after(KILL_WAIT_SECONDS):
        while kill_tree(ident, token, cgroup, leader_exited=leader_exited):
            leader_exited = False  # it killed someone: from now on, fresh scans
            await anyio.sleep(POLL_SECONDS)


async def stop_in_order(before: Mapping[str, Iterable[str]], stop: Callable[[str], Awaitable[object]]) -> None:
    """`stop(name)` for every agent of `before` (see `planner.stop_before`),
    each once every agent it names has stopped, all others concurrently."""
    stopped = {name: anyio.Event() for name in before}

    async def stop_one(name: str) -> None:
        try:
            for other in before[name]:
                await stopped[other].wait()
            await stop(name)
        finally:
            stopped[name].set()  # a failed stop must not hold its dependencies forever

    async with anyio.create_task_group() as tg:
        for name in before:
            tg.start_soon(stop_one, name)
