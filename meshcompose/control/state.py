"""`.mesh-compose/`: the versioned state file, the project lock, liveness.

The running supervisor is the only writer of `state.json`; `ps`, `down` and
`logs` read it from other processes, so every write is atomic (temp file in
the same directory, then `os.replace`): a reader sees the old or the new
document, never half of one, and so does a supervisor killed mid-write.
There is no fsync: it protects only against the machine itself crashing,
after which no agent is running anyway, and it cost ~25 ms per write on the
supervisor's event loop while 50 agents were starting. Writes are coalesced:
`update_agent` only marks the document dirty, and the supervisor flushes it
shortly after a burst of changes.

This module must stay cheap to import (`ps` uses it): stdlib only at import
time, psutil inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, TypedDict

from meshcompose.errors import AlreadyRunningError, ControlError, MeshComposeError

STATE_VERSION = 1
STATE_DIR_NAME = ".mesh-compose"
STATE_FILE_NAME = "state.json"
LOCK_FILE_NAME = "lock"
# A unix socket path must fit in sun_path (104 bytes on macOS, 108 on Linux).
_MAX_RUNTIME_DIR = 60
# The same tolerance as process.CREATE_TIME_TOLERANCE, so `ps` and `down`
# agree on which recorded pids are still ours (process.py is not imported
# here: it pulls in anyio, and `ps` must stay fast). A reused pid cannot have
# started within a second of the recorded one.
_CREATE_TIME_TOLERANCE = 1.0


class SupervisorRecord(TypedDict):
    pid: int
    create_time: float
    started_at: float
    socket: str
    token: str  # required in every request over TCP (Windows)
    port: Optional[int]  # loopback TCP port on Windows, else None
    detached: bool


class AgentRecord(TypedDict):
    status: str  # a model.AgentState value
    exit_code: Optional[int]
    message: Optional[str]
    pid: Optional[int]
    create_time: Optional[float]
    pgid: Optional[int]
    token: Optional[str]  # the process.TOKEN_VAR value in the agent's environment
    restarts: int
    started_at: Optional[float]
    interpreter: Optional[str]
    python_version: Optional[str]
    venv: Optional[bool]
    log_path: str
    health: Optional[str]  # "healthy" | "unhealthy" | None
    depends_on: List[str]
    mesh: Optional[Dict[str, Any]]  # reserved for the registry column
    limits: Optional[str]  # resource limits in force and the mechanism enforcing each
    # How to stop it, for a `down` that must reap it after the supervisor died.
    stop_signal: Optional[str]
    stop_grace: Optional[float]


class StateDoc(TypedDict):
    version: int
    project: str
    directory: str
    files: List[str]
    updated_at: float
    supervisor: Optional[SupervisorRecord]
    agents: Dict[str, AgentRecord]
    registry_url: Optional[str]  # where agents register; `ps` reads the MESH column there


AGENT_FIELDS = frozenset(AgentRecord.__annotations__)


def new_document(project: str, directory: Path, files: List[str]) -> StateDoc:
    return StateDoc(version=STATE_VERSION, project=project, directory=str(directory),
                    files=[str(f) for f in files], updated_at=time.time(), supervisor=None, agents={},
                    registry_url=None)


def new_agent(**fields: Any) -> AgentRecord:
    """A record with every key present; `fields` override the defaults."""
    record = AgentRecord(
        status="waiting", exit_code=None, message=None, pid=None, create_time=None, pgid=None,
        token=None, restarts=0, started_at=None, interpreter=None, python_version=None,
        venv=None, log_path="", health=None, depends_on=[], mesh=None,
        stop_signal=None, stop_grace=None, limits=None,
    )
    _check_fields(fields)
    record.update(_plain(fields))  # type: ignore[typeddict-item]
    return record


def _check_fields(fields: Dict[str, Any]) -> None:
    unknown = set(fields) - AGENT_FIELDS
    if unknown:
        raise TypeError(f"unknown agent record field(s): {', '.join(sorted(unknown))}")


def _plain(fields: Dict[str, Any]) -> Dict[str, Any]:
    """Enums become their values, tuples lists: the file holds JSON types only."""
    out = {}
    for key, value in fields.items():
        if hasattr(value, "value") and isinstance(value, str):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def _private_dir(path: Path) -> Path:
    """Create `path` with mode 0700, or tighten it if it exists looser."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def state_dir(project_dir: Path) -> Path:
    """`.mesh-compose/` beside the project file, created 0700."""
    return _private_dir(Path(project_dir) / STATE_DIR_NAME)


class StateStore:
    """Reads and (for the supervisor) writes `.mesh-compose/state.json`."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = Path(project_dir)
        self.path = self.project_dir / STATE_DIR_NAME / STATE_FILE_NAME
        self.doc: Optional[StateDoc] = None
        self.dirty = False

    def read(self) -> Optional[StateDoc]:
        """The document on disk, or None when the project never ran here."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise MeshComposeError(f"cannot read {self.path}: {error.strerror}",
                                   hint="check the permissions of the .mesh-compose directory") from None
        return _parse(text, self.path)

    def write(self, doc: StateDoc) -> None:
        """Adopt `doc` as the in-memory document and write it now."""
        self.doc = doc
        self.write_now()

    def update_agent(self, name: str, **fields: Any) -> None:
        """Change one agent's record in memory; `flush()` writes it."""
        doc = self._require_doc()
        _check_fields(fields)
        record = doc["agents"].get(name)
        if record is None:
            doc["agents"][name] = new_agent(**fields)
        else:
            record.update(_plain(fields))  # type: ignore[typeddict-item]
        self.dirty = True

    def set_supervisor(self, record: Optional[SupervisorRecord]) -> None:
        self._require_doc()["supervisor"] = record
        self.dirty = True

    def flush(self) -> bool:
        """Write if anything changed since the last write; True if it wrote."""
        if not self.dirty:
            return False
        self.write_now()
        return True

    def write_now(self) -> None:
        doc = self._require_doc()
        doc["updated_at"] = time.time()
        state_dir(self.project_dir)
        _atomic_write(self.path, json.dumps(doc) + "\n")  # no indent: the C encoder, ~10x faster
        self.dirty = False

    def _require_doc(self) -> StateDoc:
        if self.doc is None:
            raise RuntimeError("StateStore has no document: call write(new_document(...)) first")
        return self.doc


def _parse(text: str, path: Path) -> StateDoc:
    hint = f"if no supervisor is running for this project, delete {path}"
    try:
        doc = json.loads(text)
    except ValueError as error:
        raise MeshComposeError(f"the state file {path} is corrupt ({error})", hint=hint) from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, int) or not isinstance(doc.get("agents"), dict):
        raise MeshComposeError(f"the state file {path} is corrupt (no version or agents)", hint=hint)
    if version > STATE_VERSION:
        raise MeshComposeError(
            f"the state file {path} was written by a newer mesh-compose (format {version}, "
            f"this one reads up to {STATE_VERSION})",
            hint="use the mesh-compose that started the project, or upgrade this one")
    doc["agents"] = {name: {**new_agent(), **(record if isinstance(record, dict) else {})}
                     for name, record in doc["agents"].items()}
    doc.setdefault("supervisor", None)
    doc.setdefault("registry_url", None)
    return doc  # type: ignore[return-value]


def _atomic_write(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


class ProjectLock:
    """`.mesh-compose/lock`: held by the one supervisor of the project.

    The kernel decides who wins (flock / msvcrt.locking), so two `up` started
    at the same moment cannot both pass. The holder's pid is written inside
    so the loser can name it.
    """

    def __init__(self, project_dir: Path, project: Optional[str] = None) -> None:
        self.project_dir = Path(project_dir)
        self.project = project or self.project_dir.name
        self.path = self.project_dir / STATE_DIR_NAME / LOCK_FILE_NAME
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int:
        if self._fd is None:
            raise RuntimeError("the lock is not held")
        return self._fd

    def acquire(self) -> None:
        if self._fd is not None:
            return
        state_dir(self.project_dir)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise AlreadyRunningError(self.project, self._holder_pid()) from None
        self._fd = fd
        self.write_holder(os.getpid())

    def adopt(self, fd: int) -> None:
        """Take over a lock inherited from the parent (`up -d`)."""
        self._fd = fd
        self.write_holder(os.getpid())

    def hand_over(self) -> None:
        """Close our descriptor without unlocking: a child that inherited the
        same open file keeps the lock (flock belongs to the open file)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def write_holder(self, pid: int) -> None:
        """Record `pid` as the holder (a detached supervisor inherits the lock)."""
        fd = self.fileno()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{pid}\n".encode())

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def _holder_pid(self) -> int:
        # The winner writes its pid right after locking; give it a moment.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                text = self.path.read_text().strip()
            except OSError:
                text = ""
            if text.isdigit() or time.monotonic() > deadline:
                return int(text) if text.isdigit() else 0
            time.sleep(0.01)

    def __enter__(self) -> "ProjectLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    # Lock a byte far past the pid so readers of the file are not blocked.
    _WIN_LOCK_OFFSET = 1 << 20

    def _lock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def runtime_dir() -> Path:
    """A short private directory for sockets: $XDG_RUNTIME_DIR/mesh-compose if
    that is short, else /tmp/mesh-compose-UID (0700, must be ours)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and len(xdg) <= _MAX_RUNTIME_DIR and os.path.isdir(xdg):
        base = Path(xdg) / "mesh-compose"
    elif os.name == "posix":
        base = Path("/tmp") / f"mesh-compose-{os.getuid()}"
    else:
        base = Path(tempfile.gettempdir()) / "mesh-compose"
    _private_dir(base)
    _check_owner(base)
    return base


def _check_owner(path: Path) -> None:
    """/tmp is shared: refuse a directory someone else made (or a symlink)."""
    if os.name != "posix":
        return
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise ControlError(f"{path} is not a directory owned by you",
                           hint="remove it, or set XDG_RUNTIME_DIR to a private directory")


def socket_path(project_dir: Path) -> Path:
    """The control socket of a project: short, whatever the project path's length."""
    digest = hashlib.sha256(str(Path(project_dir).resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}.sock"


def process_alive(pid: Optional[int], create_time: Optional[float]) -> bool:
    """True if `pid` is still the process that was recorded (not reused, not a zombie)."""
    if not pid or create_time is None:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > _CREATE_TIME_TOLERANCE:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # exists, but is not ours to inspect further


def supervisor_alive(doc: Optional[StateDoc]) -> bool:
    record = doc.get("supervisor") if doc else None
    return bool(record) and process_alive(record.get("pid"), record.get("create_time"))
