"""`.mesh-compose/state.json`: the versioned document of a running project.

The running supervisor is the only writer; `ps`, `down` and `logs` read it
from other processes, so every write is atomic (`privatefiles.write_atomic`):
a reader sees the old or the new document, never half of one, and so does a
supervisor killed mid-write. Writes are coalesced: `update_agent` only marks
the document dirty, and the supervisor flushes it shortly after a burst of
changes. The lock is in `lock`, the paths in `paths`.

One kind of change cannot wait for a flush: a spawn. What finds an agent
process later (its token and cgroup, then its pid) must be on disk before
the supervisor does anything else, or a supervisor SIGKILLed in between
leaves a process no `down` can find. Rewriting the whole
document per spawn would make starting N agents cost O(N²). So each spawn record
is appended, as one short JSON line, to `spawns.jsonl` beside the document
(one write, whatever N); every document write empties that journal, since
the document then holds it all, and every read applies what is left in it.

This module must stay cheap to import (`ps` uses it): stdlib only at import
time, psutil inside the functions that need it.
"""

from __future__ import annotations

import enum
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, TypedDict

from meshcompose.control.paths import SPAWNS_FILE_NAME, check_state_dir, state_dir, state_file
from meshcompose.errors import MeshComposeError
from meshcompose.lifecycle import INITIAL
from meshcompose.privatefiles import DamagedFileError, read_bounded, write_atomic
from meshcompose.proc.identity import process_alive

STATE_VERSION = 1
# Bounds on what a reader takes from disk: fifty agents' document is ~60 KB.
MAX_STATE_BYTES = 4 << 20
MAX_JOURNAL_BYTES = 4 << 20
MAX_EARLIER_RUNS = 8  # runs of one agent a journal may have replaced, kept for `down`


class DamagedStateError(MeshComposeError):
    """The state file cannot be trusted (unparsable, wrong types, a symlink,
    too large); said in one line. Stopping the project does not need it."""


class SupervisorRecord(TypedDict):
    pid: int
    create_time: float
    started_at: float
    socket: str
    token: str  # required in every request over TCP (Windows)
    port: int | None  # loopback TCP port on Windows, else None
    detached: bool


class AgentRecord(TypedDict):
    status: str  # a lifecycle.AgentState value
    exit_code: int | None
    message: str | None
    pid: int | None
    create_time: float | None
    pgid: int | None
    token: str | None  # the identity.TOKEN_VAR value in the agent's environment
    cgroup: str | None  # the run's cgroup (proc.cgroup), which no child of it can leave
    restarts: int
    started_at: float | None
    interpreter: str | None
    python_version: str | None
    venv: bool | None
    log_path: str
    health: str | None  # a model.HEALTH_STATES word, "starting" (no verdict yet), or None
    depends_on: list[str]
    mesh: dict[str, Any] | None  # reserved for the registry column
    limits: str | None  # resource limits in force and the mechanism enforcing each
    exposed: list[str]  # addresses it listens on beyond the loopback host asked for, e.g. ["0.0.0.0:43121"]
    watch: str | None  # watch mode's last word on it: a reload, or an edit it rejected
    # How to stop it, for a `down` that must reap it after the supervisor died.
    stop_signal: str | None
    stop_grace: float | None


class StateDoc(TypedDict):
    version: int
    project: str
    directory: str
    files: list[str]
    updated_at: float
    supervisor: SupervisorRecord | None
    agents: dict[str, AgentRecord]
    registry_url: str | None  # where agents register; `ps` reads the MESH column there
    tracing_url: str | None  # where SDK agents publish trace spans; `traces` reads them there


AGENT_FIELDS = frozenset(AgentRecord.__annotations__)


def new_document(project: str, directory: Path, files: list[str]) -> StateDoc:
    return StateDoc(version=STATE_VERSION, project=project, directory=str(directory),
                    files=[str(f) for f in files], updated_at=time.time(), supervisor=None, agents={},
                    registry_url=None, tracing_url=None)


def new_agent(**fields: Any) -> AgentRecord:
    """A record with every key present; `fields` override the defaults."""
    record = AgentRecord(
        status=INITIAL.value, exit_code=None, message=None, pid=None, create_time=None, pgid=None,
        token=None, cgroup=None, restarts=0, started_at=None, interpreter=None, python_version=None,
        venv=None, log_path="", health=None, depends_on=[], mesh=None,
        stop_signal=None, stop_grace=None, limits=None, exposed=[], watch=None,
    )
    _check_fields(fields)
    record.update(_plain(fields))  # type: ignore[typeddict-item]
    return record


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - AGENT_FIELDS
    if unknown:
        raise TypeError(f"unknown agent record field(s): {', '.join(sorted(unknown))}")


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """Enums become their values, tuples lists: the file holds JSON types only."""
    out = {}
    for key, value in fields.items():
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


class StateStore:
    """Reads and (for the supervisor) writes `.mesh-compose/<project>/state.json`."""

    def __init__(self, project_dir: Path, project: str) -> None:
        self.project_dir = Path(project_dir)
        self.project = project
        self.path = state_file(self.project_dir, project)
        self.doc: StateDoc | None = None
        self.dirty = False
        self.spawns_path = self.path.with_name(SPAWNS_FILE_NAME)
        self._spawns_fd: int | None = None  # the writer's journal, open for appending
        # Per agent, the spawn fields the journal replaced at the last read (`_apply_spawns`).
        self.earlier_runs: dict[str, list[dict[str, Any]]] = {}
        # Called after every write: the supervisor answers clients waiting for a change (`op changed`).
        self.on_write: list[Callable[[], None]] = []

    def read(self) -> StateDoc | None:
        """The document on disk, or None when the project never ran here."""
        check_state_dir(self.project_dir, self.project)  # another user's state is never trusted
        try:
            data = read_bounded(self.path, MAX_STATE_BYTES, missing_ok=True)
            if data is None:
                return None
            doc = _parse(data.decode("utf-8", "replace"), self.path)
        except DamagedFileError as error:
            raise DamagedStateError(f"the state file {self.path} is damaged ({error.reason})",
                                    hint=error.hint) from None
        except OSError as error:
            raise MeshComposeError(f"cannot read {self.path}: {error.strerror}",
                                   hint="check the permissions of the .mesh-compose directory") from None
        try:
            self.earlier_runs = _apply_spawns(doc, self.spawns_path)
        except (DamagedFileError, OSError):
            self.earlier_runs = {}  # a damaged journal adds nothing; the document stands
        return doc

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

    def remove_agent(self, name: str) -> None:
        """Forget one agent's record (a replica scaled away); `flush()` writes it."""
        if self._require_doc()["agents"].pop(name, None) is not None:
            self.dirty = True

    def record_spawn(self, name: str, **fields: Any) -> None:
        """Change one agent's spawn fields (`SPAWN_FIELDS`) and put them on disk
        now, in one append to the journal; the document follows at the next flush."""
        unknown = set(fields) - SPAWN_FIELDS
        if unknown:
            raise TypeError(f"not spawn fields: {', '.join(sorted(unknown))}")
        self.update_agent(name, **fields)
        line = json.dumps({"agent": name, **_plain(fields)}) + "\n"
        if self._spawns_fd is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            self._spawns_fd = os.open(self.spawns_path, flags, 0o600)
        os.write(self._spawns_fd, line.encode())

    def set_supervisor(self, record: SupervisorRecord | None) -> None:
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
        state_dir(self.project_dir, self.project)
        write_atomic(self.path, json.dumps(doc) + "\n")  # no indent: the C encoder, ~10x faster
        self.dirty = False
        if self._spawns_fd is not None:
            os.ftruncate(self._spawns_fd, 0)  # the document now holds every spawn record
        elif self.spawns_path.exists():
            self.spawns_path.unlink()  # a previous run's journal: superseded by this document
        for callback in self.on_write:
            callback()

    def close(self) -> None:
        """Close the journal (the supervisor is done)."""
        if self._spawns_fd is not None:
            os.close(self._spawns_fd)
            self._spawns_fd = None

    def _require_doc(self) -> StateDoc:
        if self.doc is None:
            raise RuntimeError("StateStore has no document: call write(new_document(...)) first")
        return self.doc


def _parse(text: str, path: Path) -> StateDoc:
    hint = f"if no supervisor is running for this project, delete {path}"
    try:
        doc = json.loads(text)
    except ValueError as error:
        raise DamagedStateError(f"the state file {path} is corrupt ({str(error)[:80]})", hint=hint) from None
    except RecursionError:
        raise DamagedStateError(f"the state file {path} is corrupt (nested too deep)", hint=hint) from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, int) or not isinstance(doc.get("agents"), dict):
        raise DamagedStateError(f"the state file {path} is corrupt (no version or agents)", hint=hint)
    if version > STATE_VERSION:
        raise MeshComposeError(
            f"the state file {path} was written by a newer mesh-compose (format {version}, "
            f"this one reads up to {STATE_VERSION})",
            hint="use the mesh-compose that started the project, or upgrade this one")
    doc["agents"] = {name: {**new_agent(), **(record if isinstance(record, dict) else {})}
                     for name, record in doc["agents"].items()}
    doc.setdefault("supervisor", None)
    doc.setdefault("registry_url", None)
    doc.setdefault("tracing_url", None)
    problem = _malformed(doc)
    if problem:
        raise DamagedStateError(f"the state file {path} is corrupt ({problem})", hint=hint)
    return doc


SPAWN_FIELDS = frozenset({"token", "cgroup", "pid", "create_time", "pgid"})


def _apply_spawns(doc: StateDoc, path: Path) -> dict[str, list[dict[str, Any]]]:
    """Apply the spawn journal to `doc`, in order. The journal is as untrusted
    as the document: a line that is not a record of a known agent with
    well-typed spawn fields is skipped (the last one may be torn by a crash),
    and so is a line naming a pid without a token (no line of ours does).
    Returns, per agent, the spawn fields a later line replaced: a forged line
    must not hide the run it replaced from a `down`."""
    earlier: dict[str, list[dict[str, Any]]] = {}
    for line in _journal_lines(path):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(entry, dict):
            continue
        name = entry.pop("agent", None)
        record = doc["agents"].get(name) if isinstance(name, str) else None
        if record is None or not entry or set(entry) - SPAWN_FIELDS:
            continue
        if _wrong_field(entry, _SPAWN_TYPES, required=False):
            continue
        if entry.get("pid") and not entry.get("token", record.get("token")):
            continue
        if record.get("token") and "token" in entry and entry["token"] != record.get("token"):
            replaced = {field: record.get(field) for field in SPAWN_FIELDS}
            runs = earlier.setdefault(str(name), [])
            if replaced not in runs:
                runs.append(replaced)
                del runs[:-MAX_EARLIER_RUNS]
        record.update(entry)  # type: ignore[typeddict-item]
    return earlier


def _journal_lines(path: Path) -> list[bytes]:
    """The journal's lines, read bounded: a regular file (no symlink), at most MAX_JOURNAL_BYTES."""
    data = read_bounded(path, MAX_JOURNAL_BYTES, missing_ok=True)
    return data.splitlines() if data else []


# The state file is untrusted input (a user may write one by hand): every
# field something acts on must have its type, or the document is refused.
_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))
_AGENT_FIELDS: dict[str, tuple[type, ...]] = {
    "status": (str,), "exit_code": (int, type(None)), "pid": (int, type(None)), "create_time": _OPTIONAL_NUMBER,
    "pgid": (int, type(None)), "token": (str, type(None)), "restarts": (int,), "started_at": _OPTIONAL_NUMBER,
    "log_path": (str,), "depends_on": (list,), "stop_signal": (str, type(None)), "stop_grace": _OPTIONAL_NUMBER,
    "message": (str, type(None)), "interpreter": (str, type(None)), "health": (str, type(None)),
    "exposed": (list,),
}
_SPAWN_TYPES: dict[str, tuple[type, ...]] = {
    "token": (str, type(None)), "cgroup": (str, type(None)), "pid": (int, type(None)),
    "create_time": _OPTIONAL_NUMBER, "pgid": (int, type(None)),
}
_SUPERVISOR_FIELDS: dict[str, tuple[type, ...]] = {
    "pid": (int,), "create_time": _NUMBER, "socket": (str,), "token": (str,), "port": (int, type(None)),
}


def _malformed(doc: dict[str, Any]) -> str | None:
    """What is wrong with the document's types, or None."""
    for name, record in doc["agents"].items():
        wrong = _wrong_field(record, _AGENT_FIELDS)
        if wrong:
            return f"agent {name!r}: {wrong}"
        if not all(isinstance(dep, str) for dep in record["depends_on"]):
            return f"agent {name!r}: depends_on holds a non-name"
    supervisor = doc["supervisor"]
    if supervisor is not None:
        if not isinstance(supervisor, dict):
            return "supervisor is not a record"
        wrong = _wrong_field(supervisor, _SUPERVISOR_FIELDS, required=False)
        if wrong:
            return f"supervisor: {wrong}"
    for key in ("registry_url", "tracing_url"):
        if not isinstance(doc[key], (str, type(None))):
            return f"{key} is not text"
    return None


def _wrong_field(record: dict[str, Any], fields: dict[str, tuple[type, ...]], required: bool = True) -> str | None:
    for field, types in fields.items():
        if field not in record and not required:
            continue
        value = record.get(field)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"{field} is {type(value).__name__}, not {' or '.join(t.__name__ for t in types)}"
    return None


def supervisor_alive(doc: StateDoc | None) -> bool:
    """Whether the supervisor the document names is still that process."""
    record = doc.get("supervisor") if doc else None
    return record is not None and process_alive(record.get("pid"), record.get("create_time"))
