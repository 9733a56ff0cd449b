"""Summed RSS of agents' process trees, for many agents at once, cheaply.

`process.tree()` scans every process's environment on each call: right for a
stop, far too dear once a second for fifty agents. On Linux this module keeps
what it learned about each process (its agent token and parent) for the
process's lifetime, so a steady-state sample costs one listing of /proc plus
one small read per member process. A process belongs to an agent when it
carries the agent's token (descendants inherit it, and so do grandchildren
that escaped with setsid) or when its parent belongs (a child started with a
fresh environment). Elsewhere it falls back to `process.tree()`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Set, Tuple

import psutil

from meshcompose.proc import process

IS_LINUX = sys.platform.startswith("linux")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TOKEN_ENTRY = (process.TOKEN_VAR + "=").encode()
_PF_KTHREAD = 0x00200000


@dataclass(frozen=True)
class Member:
    """What is known about one process for its whole life."""

    token: Optional[str]
    ppid: int


@dataclass(frozen=True)
class TreeUsage:
    rss: int  # bytes, summed over `processes`
    processes: int


class TreeSampler:
    """Measures the summed RSS of each agent's tree; one call per watcher tick."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self._root = proc_root
        self._known: Dict[int, Member] = {}

    def sample(self, agents: Mapping[str, Tuple[process.ProcessIdentity, str]]) -> Dict[str, TreeUsage]:
        """`agents` maps a name to its leader's identity and token."""
        if not IS_LINUX:
            return {name: _psutil_usage(ident, token) for name, (ident, token) in agents.items()}
        self._refresh()
        by_token: Dict[Optional[str], Set[int]] = {}
        children: Dict[int, Set[int]] = {}
        for pid, info in self._known.items():
            by_token.setdefault(info.token, set()).add(pid)
            children.setdefault(info.ppid, set()).add(pid)
        return {
            name: self._usage(_members(ident.pid, by_token.get(token, set()), children))
            for name, (ident, token) in agents.items()
        }

    # -- Linux ---------------------------------------------------------------

    def _refresh(self) -> None:
        live = {int(entry) for entry in os.listdir(self._root) if entry.isdigit()}
        for gone in set(self._known) - live:
            del self._known[gone]
        for pid in live - set(self._known):
            member = self._read_member(pid)
            if member is not None:  # None: caught mid-exec, ask again next tick
                self._known[pid] = member

    def _read_member(self, pid: int) -> Optional[Member]:
        stat = _read(f"{self._root}/{pid}/stat")
        environ = _read(f"{self._root}/{pid}/environ")
        if stat is None:
            return Member(None, 0)  # vanished or unreadable: never ours to count
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) < 7:
            return Member(None, 0)
        if not environ and fields[0] not in (b"Z", b"X") and not int(fields[6]) & _PF_KTHREAD:
            return None  # a user process with an empty environment is mid-exec
        return Member(_token_in(environ or b""), int(fields[1]))

    def _usage(self, members: Set[int]) -> TreeUsage:
        total = count = 0
        for pid in members:
            rss = self._rss(pid)
            if rss:
                total, count = total + rss, count + 1
        return TreeUsage(total, count)

    def _rss(self, pid: int) -> int:
        statm = _read(f"{self._root}/{pid}/statm")
        if not statm:
            return 0  # gone, or a zombie (which holds no memory)
        parts = statm.split()
        return int(parts[1]) * _PAGE_SIZE if len(parts) > 1 else 0


def _members(leader: int, carriers: Set[int], children: Mapping[int, Set[int]]) -> Set[int]:
    """The leader, every token carrier, and (for a fresh environment) their descendants."""
    members = set(carriers) | {leader}
    pending = list(members)
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in members:
                members.add(child)
                pending.append(child)
    return members


def _token_in(environ: bytes) -> Optional[str]:
    for entry in environ.split(b"\0"):
        if entry.startswith(_TOKEN_ENTRY):
            return entry[len(_TOKEN_ENTRY):].decode("ascii", "replace")
    return None


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _psutil_usage(ident: process.ProcessIdentity, token: str) -> TreeUsage:
    total = count = 0
    for proc in process.tree(ident, token):
        try:
            total += proc.memory_info().rss
            count += 1
        except psutil.Error:
            continue
    return TreeUsage(total, count)
