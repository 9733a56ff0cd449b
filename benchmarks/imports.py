"""What a command imports, from CPython's import profiler (`-X importtime`).

`PYTHONPROFILEIMPORTTIME=1` turns the profiler on for any Python process,
console scripts included, and each import is reported on stderr as

    import time: self [us] | cumulative | imported package
    import time:       123 |        456 |   package.module

The nesting (indentation) shows who imported whom; `cumulative` includes
the imports a module made itself.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)\s*$")
# Packages whose presence on a start-up path is worth a column of its own.
WATCHED = ("networkx", "jsonschema")


@dataclass(frozen=True)
class Imported:
    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0 for an import made by the program itself


def parse(stderr: str) -> list[Imported]:
    found = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            self_us, cumulative, indent, module = match.groups()
            found.append(Imported(module, int(self_us), int(cumulative), (len(indent) - 1) // 2))
    return found


def profile(argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 60.0) -> list[Imported]:
    """Run a command under the import profiler; it must succeed."""
    result = subprocess.run(list(argv), cwd=cwd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        detail = [line for line in result.stderr.splitlines() if not line.startswith("import time:")][-3:]
        raise RuntimeError(f"`{' '.join(argv[-2:])}` exited {result.returncode}: {' | '.join(detail)}")
    return parse(result.stderr)


def summary(imported: Sequence[Imported]) -> dict[str, object]:
    """For the report: how many modules, the total time, and whether each watched package came in."""
    names = {entry.module for entry in imported}
    return {
        "modules": len(names),
        "import_ms": sum(entry.self_us for entry in imported) / 1000.0,
        **{package: any(name == package or name.startswith(package + ".") for name in names)
           for package in WATCHED},
    }


def by_package(imported: Sequence[Imported]) -> list[dict[str, object]]:
    """Top-level packages by the sum of their modules' self times (the cost each package brings)."""
    totals: dict[str, list[int]] = {}
    for entry in imported:
        top = entry.module.split(".")[0]
        slot = totals.setdefault(top, [0, 0])
        slot[0] += entry.self_us
        slot[1] += 1
    rows = [{"package": name, "self_ms": spent / 1000.0, "modules": count} for name, (spent, count) in totals.items()]
    return sorted(rows, key=lambda row: -float(row["self_ms"]))  # type: ignore[arg-type]


def top_modules(imported: Sequence[Imported], count: int = 10) -> list[dict[str, object]]:
    """The single modules that cost the most themselves."""
    ranked = sorted(imported, key=lambda entry: -entry.self_us)[:count]
    return [{"module": entry.module, "self_ms": entry.self_us / 1000.0, "cumulative_ms": entry.cumulative_us / 1000.0}
            for entry in ranked]
