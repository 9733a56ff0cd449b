"""Run `mesh-compose up` in this process under tracemalloc and report what the idle supervisor holds.

    python memory_trace.py PROJECT MARKERS COUNT OUT.json [--settle S] [--preimport MODULES.json]

The modules listed in MODULES.json (what a warm `up` imports, from its
import profile) are imported first and tracing starts after them: their cost
is measured as RSS in fresh interpreters, and tracing every import would slow
the supervisor down many times over. What is traced is what running costs.
The supervisor runs in the main thread through the CLI's own entry point; a
watcher thread waits until COUNT agents have written their markers, lets the
supervisor settle, takes a snapshot, writes its analysis to OUT.json and sends this
process SIGINT, which stops the project like Ctrl+C. bench_memory.py runs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import sysconfig
import threading
import time
import tracemalloc
from pathlib import Path

# Deep enough to find the import machinery under an allocation made by a late import.
FRAMES = 10

_STDLIB = sysconfig.get_paths()["stdlib"]
_IMPORTING = "<frozen importlib"


def package_of(filename: str) -> str:
    """A short owner for a source file: `meshcompose.runtime`, `anyio`, `stdlib:asyncio`, ..."""
    path = filename.replace("\\", "/")
    if "/meshcompose/" in path:
        parts = path.rsplit("/meshcompose/", 1)[1].split("/")
        return "meshcompose" + ("." + parts[0] if len(parts) > 1 else "")
    if "-packages/" in path:
        return path.rsplit("-packages/", 1)[1].split("/")[0].removesuffix(".py")
    if path.startswith(_STDLIB):
        return "stdlib:" + path[len(_STDLIB):].lstrip("/").split("/")[0].removesuffix(".py")
    return path


def short(frame: tracemalloc.Frame) -> str:
    path = frame.filename.replace("\\", "/")
    for marker in ("/meshcompose/", "-packages/"):
        if marker in path:
            path = (marker.strip("/") + "/" if marker == "/meshcompose/" else "") + path.rsplit(marker, 1)[1]
            break
    else:
        if path.startswith(_STDLIB):
            path = path[len(_STDLIB):].lstrip("/")
    return f"{path}:{frame.lineno}"


def analyse(snapshot: tracemalloc.Snapshot) -> dict[str, object]:
    """Totals, memory by owning package, and the runtime allocation sites (imports excluded)."""
    packages: dict[str, int] = {}
    sites: dict[tuple[str, str], list[int]] = {}
    imports = runtime = 0
    for trace in snapshot.traces:
        frames = list(trace.traceback)  # oldest first
        importing = any(frame.filename.startswith(_IMPORTING) for frame in frames)
        own = next((f for f in reversed(frames) if not f.filename.startswith(_IMPORTING)), frames[-1])
        owner = package_of(own.filename)
        packages[owner] = packages.get(owner, 0) + trace.size
        if importing:
            imports += trace.size
            continue
        runtime += trace.size
        via = next((f for f in reversed(frames) if "/meshcompose/" in f.filename.replace("\\", "/")), None)
        key = (short(frames[-1]), short(via) if via is not None else "")
        slot = sites.setdefault(key, [0, 0])
        slot[0] += trace.size
        slot[1] += 1
    ranked = sorted(sites.items(), key=lambda item: -item[1][0])[:300]
    return {
        "total_bytes": imports + runtime, "import_bytes": imports, "runtime_bytes": runtime,
        "packages": dict(sorted(packages.items(), key=lambda item: -item[1])[:40]),
        "sites": [{"site": site, "via": via, "bytes": size, "blocks": count} for (site, via), (size, count) in ranked],
    }


def count_markers(markers: Path) -> int:
    try:
        return sum(1 for entry in os.scandir(markers) if entry.name.endswith(".up"))
    except FileNotFoundError:
        return 0


def watch(markers: Path, count: int, out: Path, settle: float, timeout: float = 120.0) -> None:
    started = time.monotonic()
    deadline = started + timeout
    error: str | None = None
    while count_markers(markers) < count:
        if time.monotonic() > deadline:
            error = f"only {count_markers(markers)} of {count} agents up after {timeout:.0f}s"
            break
        time.sleep(0.01)
    if error is None:
        up_s = time.monotonic() - started
        time.sleep(settle)
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        taken = time.monotonic()
        found = analyse(snapshot)
        found.update(agents=count, frames=FRAMES, traces=len(snapshot.traces), up_s=up_s,
                     analysis_s=time.monotonic() - taken)
        out.write_text(json.dumps(found))
    else:
        out.write_text(json.dumps({"error": error}))
    os.kill(os.getpid(), signal.SIGINT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("markers", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--preimport", type=Path)
    args = parser.parse_args()
    for name in json.loads(args.preimport.read_text()) if args.preimport else ():
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001  (a module that will not import alone is simply traced later)
            pass
    from meshcompose.cli.main import main as mesh_compose

    tracemalloc.start(FRAMES)
    threading.Thread(target=watch, args=(args.markers, args.count, args.out, args.settle), daemon=True).start()
    code = mesh_compose(["-f", str(args.project), "--no-color", "up"])
    return 0 if code in (0, 130) else code


if __name__ == "__main__":
    sys.exit(main())
