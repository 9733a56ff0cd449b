"""Remembered results of pure computations whose cost is mostly an import.

A warm `up` of an unchanged project needs neither jsonschema (its documents
were valid last time) nor networkx (its graph was planned last time). Both
results depend only on their input, so they are kept on disk under a digest
of that input and reused. Only successes are kept: a miss, or an input that
failed, is simply computed again, errors and all.

Entries are small JSON files under the user cache directory (the same one
that holds interpreter probes), written atomically; a cache that cannot be
read or written costs nothing but the computation.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshcompose.privatefiles import write_atomic

FORMAT = 1


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """MESH_COMPOSE_CACHE_DIR, else the platform's user cache directory."""
    env = os.environ if environ is None else environ
    if env.get("MESH_COMPOSE_CACHE_DIR"):
        return Path(env["MESH_COMPOSE_CACHE_DIR"])
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "mesh-compose" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mesh-compose"
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mesh-compose"


def canonical(value: Any) -> str:
    """A JSON-like value as one text (dict order does not matter; ASCII, the rest escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(*parts: Any) -> str:
    """A stable digest of JSON-like parts (dict order does not matter)."""
    return hashlib.sha256(canonical([FORMAT, *parts]).encode("utf-8", "surrogatepass")).hexdigest()


class Memo:
    """One namespace of remembered results (`valid-documents`, `plans`)."""

    def __init__(self, name: str, directory: Path | None = None) -> None:
        self.name = name
        self._base = directory

    @property
    def directory(self) -> Path:
        # Looked up on use, so MESH_COMPOSE_CACHE_DIR set after import still counts.
        return (self._base or default_cache_dir()) / "memo" / self.name

    def get(self, key: str) -> Any | None:
        try:
            return json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: Any) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self.directory / f"{key}.json", json.dumps(value))
        except OSError:
            pass
