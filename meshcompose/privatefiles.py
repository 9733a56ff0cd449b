"""Files other users must not read, written so no reader ever sees half of one.

`.mesh-compose/` holds tokens and pids, and the caches hold probe results:
directories are 0700 and files 0600. Every write goes to a temp file in the
same directory and is then renamed over the target (`os.replace` is atomic
on one filesystem), so a concurrent reader, or a writer killed mid-write,
leaves the old document or the new one, never a mix. There is no fsync: it
would protect only against the machine crashing, and it costs ~25 ms a
write on a busy event loop.

Stdlib only, and cheap to import: `ps` reaches it through the state file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create `path` (and its parents) with mode 0700, or tighten it if it exists looser."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def write_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step; the file is 0600.

    The directory must exist. On any failure the temp file is removed and the
    error propagates; the previous content of `path` is untouched.
    """
    path = Path(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
