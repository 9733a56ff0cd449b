"""Which processes are an agent's, and what they use: one definition for
stopping an agent, for `ps` and for the memory limit.

An agent's processes are

- its leader, while it is still the recorded process (an unreaped child of
  ours; else `identity.belongs`: the token where the environment can be
  read, else the exact create time);
- every member of the leader's process group (the agent's own, since it was
  spawned as a group leader; a member whose parent died is still in it);
- every process carrying the agent's token in its environment, where that is
  readable (descendants inherit it; a grandchild that escaped with setsid
  keeps it, even from a later `down` after the supervisor died);
- every descendant of any of those (a child started with a fresh environment).

A `ProcessTable` is one scan of every process: parent, group, create time,
token. On Linux it reads /proc directly (stat and environ, one small read
each); psutil elsewhere. `TreeSampler` keeps what it learned about each
process for the process's lifetime, so the memory watcher's once-a-second
sample of fifty agents costs one listing of /proc plus one read per member;
`tree_usage` is the same measurement from a fresh scan, for `ps`.

Imports no anyio: `ps` uses it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional

import psutil

from meshcompose.proc.identity import TOKEN_VAR, ProcessIdentity, belongs, own_child, same_process, token_in

IS_LINUX = sys.platform.startswith("linux")
PROC_ROOT = "/proc"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PF_KTHREAD = 0x00200000
# A process scanned in the middle of exec() shows no environment yet (Linux):
# a stop asks again this often, this long apart, before deciding it has none.
EXEC_RETRIES = 5
EXEC_RETRY_SECONDS = 0.002

AgentKey = tuple[Optional[ProcessIdentity], Optional[str]]
"""How an agent's processes are found: its leader's identity and its token."""


@dataclass(frozen=True)
class Entry:
    """One process, as a scan saw it."""

    ppid: int
    pgrp: int  # 0 where there are no process groups (Windows)
    create_time: float
    token: str | None  # its TOKEN_VAR, None if it has none or it cannot be read
    zombie: bool = False
    readable: bool = True  # its environment could be read (so `token` is decisive)


@dataclass(frozen=True)
class TreeUsage:
    """What an agent's processes use right now."""

    rss: int  # bytes, summed over the processes holding memory
    processes: int  # how many hold memory (a zombie holds none)
    cpu_seconds: float = 0.0  # user + system, summed
    pids: tuple[int, ...] = field(default=(), compare=False)  # every member found

    def cpu_percent(self, since: float, now: float | None = None) -> float:
        """CPU time as a percentage of one CPU since `since` (the leader's
        create time), averaged as ps(1) does."""
        elapsed = max((time.time() if now is None else now) - since, 0.001)
        return round(100.0 * self.cpu_seconds / elapsed, 1)


class ProcessTable:
    """One scan of the process table, indexed for many agents at once."""

    def __init__(self, entries: Mapping[int, Entry], listed: Iterable[int] | None = None,
                 taken_at: float = 0.0) -> None:
        self.entries = entries
        self.listed = frozenset(entries if listed is None else listed)  # every pid the scan began with
        self.taken_at = taken_at  # when the scan began (time.time()); 0: unknown
        self._children: dict[int, list[int]] = {}
        self._groups: dict[int, list[int]] = {}
        self._tokens: dict[str, list[int]] = {}
        for pid, entry in entries.items():
            self._children.setdefault(entry.ppid, []).append(pid)
            if entry.pgrp:
                self._groups.setdefault(entry.pgrp, []).append(pid)
            if entry.token:
                self._tokens.setdefault(entry.token, []).append(pid)

    def members(self, ident: ProcessIdentity | None, token: str | None) -> set[int]:
        """The agent's processes (see the module docstring), zombies included."""
        roots: set[int] = set(self._tokens.get(token, ())) if token else set()
        if ident is not None:
            leader = self.entries.get(ident.pid)
            if leader is not None and (
                    (own_child(ident.pid, leader.ppid) and same_process(leader.create_time, ident.create_time))
                    or belongs(ident, token, leader.create_time, leader.token, leader.readable)):
                roots.add(ident.pid)
            if leader is None or ident.pid in roots:
                # A group id stays reserved while the group has members, so a
                # group without its (dead) leader is still the agent's.
                roots.update(self._groups.get(ident.pid, ()))
        return self._with_descendants(roots)

    def _with_descendants(self, roots: Iterable[int]) -> set[int]:
        found = set(roots)
        pending = list(found)
        while pending:
            for child in self._children.get(pending.pop(), ()):
                if child not in found:
                    found.add(child)
                    pending.append(child)
        return found


def scan(*, settle: bool = False) -> ProcessTable:
    """A fresh table. `settle`: ask again about processes caught mid-exec
    before deciding they carry no token (a stop must not miss one; `ps` need
    not wait for it)."""
    taken_at = time.time()
    if not IS_LINUX:
        return ProcessTable(_psutil_entries(), taken_at=taken_at)
    listed = _listing()
    entries, undecided, _ = _linux_entries(listed)
    for _ in range(EXEC_RETRIES if settle else 0):
        if not undecided:
            break
        time.sleep(EXEC_RETRY_SECONDS)  # its environment is moments away
        found, undecided, _ = _linux_entries(undecided)
        entries.update(found)
    entries.update(_linux_entries(undecided, settled=True)[0])
    return ProcessTable(entries, listed, taken_at)


# When many agents stop at once, a scan of every process per ended leader
# would cost N full scans, two or three times over. One settled scan serves every
# agent whose leader had already exited (was no longer listed) when it began
# and was born well before: each live member of that agent's tree was
# listed, and a member born later can only come from one of them, which the
# caller's next round finds (`process.kill_tree` rescans while it kills).
_last_settled: ProcessTable | None = None
_BORN_BEFORE_MARGIN = 1.0  # seconds: create times are coarse (clock ticks, boot time)
_REUSE_SECONDS = 5.0  # and an old table only names pids that may be reused since


def scan_after_exit(leader: ProcessIdentity | None) -> ProcessTable:
    """A settled table taken after `leader` exited: the last one where that
    holds, else a fresh one (which is kept for the next caller)."""
    global _last_settled
    last = _last_settled
    if (last is not None and leader is not None and leader.pid not in last.listed
            and leader.create_time + _BORN_BEFORE_MARGIN < last.taken_at
            and time.time() - last.taken_at < _REUSE_SECONDS):
        return last
    _last_settled = scan(settle=True)
    return _last_settled


def tree_usage(agents: Mapping[str, AgentKey]) -> dict[str, TreeUsage]:
    """Each agent's summed RSS and CPU time, from one fresh scan: `ps`'s figures,
    measured exactly as the memory limit measures them."""
    return TreeSampler().sample(agents)


class TreeSampler:
    """Measures agents' trees repeatedly (the memory watcher: one call a tick),
    remembering each process's parent, group and token for its lifetime."""

    def __init__(self) -> None:
        self._known: dict[int, Entry] = {}
        self._ignored: set[int] = set()  # kernel threads: never anyone's
        self._indexed: ProcessTable | None = None  # of `_known`, until it changes

    def sample(self, agents: Mapping[str, AgentKey]) -> dict[str, TreeUsage]:
        table = self._table()
        return {name: _usage(table.members(ident, token)) for name, (ident, token) in agents.items()}

    def members(self, agents: Mapping[str, AgentKey]) -> dict[str, set[int]]:
        """Each agent's processes, zombies included, without measuring them."""
        table = self._table()
        return {name: table.members(ident, token) for name, (ident, token) in agents.items()}

    def _table(self) -> ProcessTable:
        if not IS_LINUX:
            return ProcessTable(_psutil_entries())
        live = _listing()
        gone = set(self._known) - live
        for pid in gone:
            del self._known[pid]
        self._ignored &= live
        found, undecided, ignored = _linux_entries(live - set(self._known) - self._ignored)
        self._known.update(found)
        self._ignored |= ignored
        if undecided:  # caught mid-exec: counted now without a token, asked again next time
            return ProcessTable({**self._known, **_linux_entries(undecided, settled=True)[0]})
        if gone or found or self._indexed is None:
            self._indexed = ProcessTable(dict(self._known))
        return self._indexed


# -- Linux: /proc ------------------------------------------------------------------


def _listing() -> set[int]:
    return {int(entry) for entry in os.listdir(PROC_ROOT) if entry.isdigit()}


def _linux_entries(pids: Iterable[int], *, settled: bool = False) -> tuple[dict[int, Entry], set[int], set[int]]:
    """Entries for `pids`; the pids caught mid-exec (none when `settled`: then
    those count as carrying no token); and those that are gone or kernel threads."""
    entries: dict[int, Entry] = {}
    undecided: set[int] = set()
    skipped: set[int] = set()
    boot: float | None = None
    for pid in pids:
        boot = psutil.boot_time() if boot is None else boot
        entry = read_entry(pid, boot, settled=settled)
        if entry is None:
            skipped.add(pid)
        elif entry is UNDECIDED:
            undecided.add(pid)
        else:
            entries[pid] = entry
    return entries, undecided, skipped


UNDECIDED = Entry(-1, -1, -1.0, None)
"""`read_entry`'s answer for a user process whose environment is empty: on
Linux that is what a process looks like for a moment in the middle of exec(),
when the kernel lets the parent (and a waiting Popen) run on before the new
environment is in place."""


def read_entry(pid: int, boot_time: float | None = None, *, settled: bool = False) -> Entry | None:
    """Process `pid` from /proc: None if it is gone or a kernel thread,
    UNDECIDED if it is caught mid-exec (unless `settled`)."""
    stat = _read(f"{PROC_ROOT}/{pid}/stat")
    fields = stat.rsplit(b")", 1)[-1].split() if stat else []
    if len(fields) < 20 or int(fields[6]) & _PF_KTHREAD:
        return None
    zombie = fields[0] in (b"Z", b"X")
    environ = None if zombie else _read(f"{PROC_ROOT}/{pid}/environ")
    if environ == b"" and not settled:
        return UNDECIDED
    boot = psutil.boot_time() if boot_time is None else boot_time
    return Entry(ppid=int(fields[1]), pgrp=int(fields[2]), create_time=boot + int(fields[19]) / _CLOCK_TICKS,
                 token=token_in(environ or b""), zombie=zombie, readable=bool(environ))


def _read(path: str) -> bytes | None:
    """The file's bytes; None if unreadable (gone, or another user's environ)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _linux_usage(pid: int) -> tuple[int, float]:
    stat = _read(f"{PROC_ROOT}/{pid}/stat")
    fields = stat.rsplit(b")", 1)[-1].split() if stat else []
    if len(fields) < 22:
        return 0, 0.0  # gone
    cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return int(fields[21]) * _PAGE_SIZE, cpu  # a zombie's rss reads 0


# -- elsewhere: psutil ---------------------------------------------------------------


def _psutil_entries() -> dict[int, Entry]:
    entries: dict[int, Entry] = {}
    for proc in psutil.process_iter(["ppid", "create_time", "status"]):
        info = proc.info
        if info.get("ppid") is None or info.get("create_time") is None:
            continue
        token, readable = _environ_token(proc)
        entries[proc.pid] = Entry(info["ppid"], _group_of(proc.pid), info["create_time"], token,
                                  zombie=info.get("status") == psutil.STATUS_ZOMBIE, readable=readable)
    return entries


def _group_of(pid: int) -> int:
    try:
        return os.getpgid(pid) if hasattr(os, "getpgid") else 0
    except OSError:
        return 0


def _environ_token(proc: psutil.Process) -> tuple[str | None, bool]:
    try:
        environ = proc.environ()
    except (psutil.Error, OSError):
        return None, False
    return environ.get(TOKEN_VAR), bool(environ)


def _psutil_usage(pid: int) -> tuple[int, float]:
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            times = proc.cpu_times()
            return proc.memory_info().rss, times.user + times.system
    except psutil.Error:
        return 0, 0.0


def _usage(members: set[int]) -> TreeUsage:
    measure = _linux_usage if IS_LINUX else _psutil_usage
    rss = count = 0
    cpu = 0.0
    for pid in sorted(members):
        used, seconds = measure(pid)
        cpu += seconds
        if used:
            rss, count = rss + used, count + 1
    return TreeUsage(rss, count, cpu, tuple(sorted(members)))
