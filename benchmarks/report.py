"""The results of one run: medians, the JSON file, the markdown tables and the page.

Everything printed or written comes from one `results` dictionary (the one
saved as `.work/results.json`), so the page, the README headline and the
JSON always describe the same run.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

Samples = dict[str, dict[str, list[float]]]  # tool -> metric -> samples
Medians = dict[str, dict[str, float]]

# Metrics measured in both cases, also reported pooled (a stop is the same work cold or warm).
POOLED = ("stop", "exit")


def medians(samples: Samples) -> Medians:
    table: Medians = {}
    for tool, metrics in samples.items():
        row = {metric: statistics.median(values) for metric, values in metrics.items() if values}
        for name in POOLED:
            pooled = metrics.get(f"{name}_cold_s", []) + metrics.get(f"{name}_warm_s", [])
            if pooled:
                row[f"{name}_s"] = statistics.median(pooled)
        if metrics.get("order_violations"):
            row["order_violations"] = max(metrics["order_violations"])  # one bad stop is a finding
        table[tool] = row
    return table


def machine() -> dict[str, str]:
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            memory = f"{int(handle.readline().split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model() or platform.processor() or "?",
        "cpus": str(os.cpu_count()),
        "memory": memory,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def assemble(samples: Samples, notes: dict[str, str], *, settings: dict[str, object], versions: dict[str, str],
             labels: dict[str, str], imports: dict[str, dict[str, object]], extra: Mapping[str, object],
             timing: dict[str, object]) -> dict[str, object]:
    import budgets

    results: dict[str, object] = {
        "date": datetime.datetime.fromtimestamp(float(timing["started"])).strftime("%Y-%m-%d %H:%M"),  # type: ignore[arg-type]
        "machine": machine(), "settings": settings, "versions": versions, "timing": timing,
        "medians": medians(samples), "samples": samples, "labels": labels, "imports": imports,
        "notes": notes, **extra,
    }
    results["budgets"] = budgets.rows(results)
    return results


# The one-minute load average decays exponentially: from 70 (a benchmark
# that starts hundreds of processes) it reaches 2 in about 3.5 minutes.
SETTLE_S = 240.0


def settled_load(limit: float = SETTLE_S) -> float:
    """The load average once the load the run itself caused has drained, waiting at most `limit` seconds.

    A benchmark that starts many processes at once keeps more of them
    runnable than there are cores, so a reading taken just after it measures
    the benchmark, not the machine. Load that does not drain within `limit`
    comes from elsewhere, and the reading then stays above the core count
    (unpublishable).
    """
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] > cores and time.monotonic() < deadline:
        time.sleep(5.0)
    return os.getloadavg()[0]


def unpublishable(results: Mapping[str, object]) -> str:
    """Why this run's figures may not be published ('' if they may): the load rose above the core count.

    On a machine busier than it has cores, the tools wait for a CPU in turn
    and the ratios measure the queue, not the tools.
    """
    timing: Mapping[str, object] = results.get("timing") or {}  # type: ignore[assignment]
    cpus = int(results["machine"]["cpus"])  # type: ignore[index]
    seen = [float(load[0]) for load in (timing.get("load_before"), timing.get("load_after")) if load]  # type: ignore[index]
    seen += [float(value) for value in timing.get("load_seen") or []]  # type: ignore[attr-defined]
    if not seen:
        return "the run recorded no load average"
    if max(seen) > cpus:
        return f"the load average reached {max(seen):.2f} on {cpus} cores"
    return ""


def write_json(path: Path, results: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def render(results: Mapping[str, object]) -> str:
    """Every table, in markdown, with a short header (for the terminal)."""
    import tables

    info = results["machine"]
    header = (f"mesh-compose benchmarks, {results['date']}: {info['cpus']} CPUs, {info['python']}, "  # type: ignore[index]
              f"{tables.load_text(results)}\n")
    reason = unpublishable(results)
    if reason:
        header += f"NOT PUBLISHABLE: {reason}\n"
    return header + "\n" + "\n\n".join(f"## {title}\n\n{body}" for title, body in tables.sections(results)) + "\n"


def write_page(path: Path, results: Mapping[str, object]) -> None:
    """The whole benchmarks page; what follows the KEEP marker in an existing page is kept as written."""
    import page

    kept = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if page.KEEP in text:
            kept = text[text.index(page.KEEP):]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.render(results, kept or page.KEEP + "\n"), encoding="utf-8")


README_BEGIN = "<!-- benchmark headline: written by `benchmarks/run.py --readme README.md` -->"
README_END = "<!-- end of the benchmark headline -->"


def write_readme(path: Path, results: Mapping[str, object]) -> None:
    """Replace the README's headline (between its two markers) with this run's."""
    import page

    text = path.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"{path} has no benchmark headline markers ({README_BEGIN} ... {README_END})")
    before, rest = text.split(README_BEGIN, 1)
    after = rest.split(README_END, 1)[1]
    block = f"{README_BEGIN}\n{page.readme_headline(results)}\n{README_END}"
    path.write_text(before + block + after, encoding="utf-8")


# --- formatting shared by the tables ---------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A markdown table; the first `left` columns are text, the rest numbers (right-aligned)."""
    align = ["---" if index < left else "---:" for index in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def ratio(value: float | None, base: float | None, bold: bool = False) -> str:
    if value is None or not base:
        return "–"
    text = f"{value / base:.2f}×"
    return f"**{text}**" if bold else text


def number(value: float | None, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""
