"""One cgroup v2 per agent run: the one membership a child cannot shed.

A process group is left with setsid(), a token with a fresh environment; a
grandchild that does both (issue #12 point 10) is no longer anyone's by
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
