"""`events`: the lifecycle changes of a running project, as they happen.

The supervisor appends each change (start, die, restart, health_status: …)
to `events.jsonl` in the state directory (`runtime.events.EventRecorder`);
this follows that file from its current end, like compose's `events`, and
ends when the project's supervisor does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from meshcompose.app.live import known_names, running_doc
from meshcompose.app.project import ProjectIdentity
from meshcompose.control import paths, state

POLL_SECONDS = 0.2
READ_BYTES = 1 << 20  # read at most this much of the file at a time
MAX_EVENT_LINE = 64 << 10  # an event line is ~300 bytes: a longer one is damage, skipped
EVENTS_FILE_NAME = "events.jsonl"  # runtime.events.EVENTS_FILE_NAME (a test keeps them equal)


def events_path(project: ProjectIdentity) -> Path:
    return paths.state_file(project.directory, project.name).parent / EVENTS_FILE_NAME


def follow(project: ProjectIdentity, names: Sequence[str] = (), *,
           poll: float = POLL_SECONDS) -> Iterator[dict[str, Any]]:
    """Each new event of the agents `names` (all if empty) until the supervisor ends."""
    doc = running_doc(project.directory, project.name, "events")
    wanted = set(known_names(names, doc["agents"]))
    path = events_path(project)
    offset = path.stat().st_size if path.exists() else 0
    store = state.StateStore(project.directory, project.name)
    pending = b""
    while True:
        chunk = _read_from(path, offset)
        offset += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_EVENT_LINE:
            pending = b""  # no newline in sight: not an event; its end is skipped as a torn line
        for line in lines:
            event = parse_event(line)
            if event is not None and (not wanted or event.get("service") in wanted):
                yield event
        if not chunk:
            if not state.supervisor_alive(store.read()):
                return
            time.sleep(poll)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(READ_BYTES)
    except FileNotFoundError:
        return b""


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One line of events.jsonl as an event; None for a line that is not one
    (damaged, cut, or nested beyond reason)."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None
