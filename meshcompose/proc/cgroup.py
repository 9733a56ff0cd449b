"""One cgroup v2 per agent run: the one membership a child cannot shed.

A process group is left with setsid(), a token with a fresh environment; a
grandchild that does both is no longer anyone's by
`proc.tree`'s rules. Its cgroup it cannot leave without write access to the
hierarchy. So where a cgroup v2 hierarchy is mounted and writable (Linux,
usually as root or inside a delegated subtree), every run of an agent gets
its own cgroup, `<mount>/<our cgroup>/mesh-compose/<token>`, which the agent
joins right after it is spawned. Stopping it kills every member
(`cgroup.kill`, or SIGKILL to each listed pid on kernels before 5.14), and the
cgroup is removed after. Its path is in the state file, so a `down` after the
supervisor died by SIGKILL kills the members too.

The limits, where this is not available (no cgroup v2, not writable, not
Linux): tracking falls back to the process group, the token and descendants
(`proc.tree`), which a grandchild that calls setsid *and* execs with an empty
environment escapes once its parent is gone. Also, the agent joins its cgroup
just after exec: a child it forks in its first instants (before the move)
stays outside, found only by the token.

Limits. Where the hierarchy delegates the `memory` and `cpu` controllers to
our cgroup's children, they are enabled for the agents' cgroups (in the
`mesh-compose` cgroup, which this module made) and `limit()` writes an
agent's `memory.max` (with `memory.swap.max` 0 and `memory.oom.group` 1:
the whole agent is killed, as a sampled breach stops it) and `cpu.max`
into its cgroup before the agent joins it. The kernel then holds them for
every process of the agent, a child that left the process group included.
`oom_killed()` tells an exit by the kernel's OOM killer. Elsewhere (no such
controller, as on a hybrid hierarchy whose memory and cpu controllers are
bound to cgroup v1), `runtime.resources` samples instead.

Stdlib only; `down` imports it.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
from pathlib import Path

BASE_NAME = "mesh-compose"
LIMIT_CONTROLLERS = ("cpu", "memory")
CPU_PERIOD_US = 100_000
CPU_MIN_QUOTA_US = 1_000  # the kernel's smallest cpu.max quota
_TOKEN_NAME = re.compile(r"^[0-9a-f]{32}$")


@functools.lru_cache(maxsize=1)
def root() -> Path | None:
    """Where agent cgroups go (created here), or None where they cannot."""
    mount = _cgroup2_mount()
    if mount is None:
        return None
    base = mount / _own_cgroup().lstrip("/") / BASE_NAME
    try:
        base.mkdir(mode=0o755, exist_ok=True)
    except OSError:
        return None
    return base if os.access(base / "cgroup.procs", os.W_OK) else None


def _cgroup2_mount() -> Path | None:
    """The first writable cgroup2 mount in /proc/self/mountinfo, if any."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, fstype = before.split(), after.split()[:1]
        if fstype == ["cgroup2"] and len(fields) >= 5 and os.access(fields[4], os.W_OK):
            return Path(fields[4].replace("\\040", " "))
    return None


def _own_cgroup() -> str:
    """Our cgroup in the v2 hierarchy (the `0::` line), "/" if unknown."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("0::"):
                    return line[3:].strip() or "/"
    except OSError:
        pass
    return "/"


def create(token: str) -> Path | None:
    """A new, empty cgroup for the agent run identified by `token`; None where
    cgroups are not available (then `proc.tree`'s rules alone apply)."""
    base = root()
    if base is None:
        return None
    path = base / token
    try:
        path.mkdir(mode=0o755)
    except OSError:
        return None
    return path


def offered_limits() -> frozenset[str]:
    """The controllers (`cpu`, `memory`) whose limits agent cgroups can have
    here; read only (for `env` and the docs' "which one applies")."""
    mount = _cgroup2_mount()
    if mount is None:
        return frozenset()
    own = mount / _own_cgroup().lstrip("/")
    return frozenset(_read(own / "cgroup.subtree_control").split()) & frozenset(LIMIT_CONTROLLERS)


@functools.lru_cache(maxsize=1)
def limit_controllers() -> frozenset[str]:
    """The controllers enabled for agent cgroups: those offered to the
    `mesh-compose` cgroup, enabled in its `cgroup.subtree_control` (ours: it
    holds no process, so the kernel allows it). Nothing above it is changed."""
    base = root()
    if base is None:
        return frozenset()
    offered = frozenset(_read(base / "cgroup.controllers").split()) & frozenset(LIMIT_CONTROLLERS)
    enabled = frozenset(_read(base / "cgroup.subtree_control").split())
    missing = sorted(offered - enabled)
    if missing:
        _write(base / "cgroup.subtree_control", " ".join(f"+{name}" for name in missing))
        enabled = frozenset(_read(base / "cgroup.subtree_control").split())
    return offered & enabled


def limit(path: Path | None, *, memory: int | None, cpu: float | None) -> frozenset[str]:
    """Write the kernel's limits into the agent's (still empty) cgroup;
    returns those that hold (`memory`, `cpu`): the others are sampled."""
    if path is None or (memory is None and cpu is None):
        return frozenset()
    available = limit_controllers()
    held = set()
    if memory is not None and "memory" in available and _write(path / "memory.max", str(memory)):
        _write(path / "memory.swap.max", "0")  # absent without swap accounting: nothing to hold then
        _write(path / "memory.oom.group", "1")
        held.add("memory")
    if cpu is not None and "cpu" in available:
        quota = max(CPU_MIN_QUOTA_US, round(cpu * CPU_PERIOD_US))
        if _write(path / "cpu.max", f"{quota} {CPU_PERIOD_US}"):
            held.add("cpu")
    return frozenset(held)


def oom_killed(path: Path | None) -> bool:
    """Whether the kernel's OOM killer killed a process of the cgroup
    (`oom_kill` in its memory.events)."""
    if path is None:
        return False
    for line in _read(path / "memory.events").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value) > 0
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text + "\n")
    except OSError:
        return False
    return True


def trusted(recorded: str | None, token: str | None) -> Path | None:
    """The recorded cgroup path of the run with `token`, if it is one this
    module made: the state file is not trusted to name a cgroup to kill."""
    if not recorded or not token or not _TOKEN_NAME.match(token):
        return None
    path = Path(recorded)
    if path.name != token or path.parent.name != BASE_NAME or not path.is_absolute() or ".." in path.parts:
        return None
    mount = _cgroup2_mount()
    if mount is None or mount not in path.parents:
        return None
    return path


def path_of(pid: int) -> Path | None:
    """The cgroup v2 directory `pid` is in, where one is mounted (None if unknown)."""
    mount = _cgroup2_mount()
    if mount is None:
        return None
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("0::"):
                    return mount / line[3:].strip().lstrip("/")
    except OSError:
        return None
    return None


def add(path: Path | None, pid: int) -> bool:
    """Move `pid` into the agent's cgroup (its later children are born there)."""
    if path is None:
        return False
    try:
        (path / "cgroup.procs").write_text(f"{pid}\n")
    except OSError:
        return False  # gone already, or no longer ours to move
    return True


def members(path: Path | None) -> set[int]:
    """Every process in the cgroup now (none if it is gone)."""
    if path is None:
        return set()
    try:
        text = (path / "cgroup.procs").read_text()
    except OSError:
        return set()
    return {int(line) for line in text.split() if line.isdigit()}


def kill(path: Path | None) -> int:
    """SIGKILL every member; returns how many there were."""
    found = members(path)
    if path is None or not found:
        return 0
    try:
        (path / "cgroup.kill").write_text("1\n")  # atomic, forks included (Linux 5.14+)
        return len(found)
    except OSError:
        pass
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
    return len(found)


def remove(path: Path | None) -> bool:
    """Remove the (empty) cgroup; False if it still has members or is gone."""
    if path is None:
        return False
    try:
        path.rmdir()
    except OSError:
        return False
    return True
