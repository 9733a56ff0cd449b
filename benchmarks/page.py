"""docs/benchmarks.md, written whole from one run (`run.py --markdown PATH`).

The page is the run's header (command, machine, date, load), the headline
for the README, every table and the budgets. Whatever follows the KEEP
marker in the existing page (the analysis: what profiling found, what is
left and why) is hand-written and kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tables
from report import ratio, table
from runners import FLOOR_NO_PIPES, FLOOR_PIPES

KEEP = "<!-- Everything below this line is written by hand; `benchmarks/run.py --markdown` keeps it. -->"

INTRO = """\
The latest run of `benchmarks/run.py`: the same trivial standard-library
agents through two floors, honcho, supervisord and mesh-compose, interleaved
in one run (the order rotating every round). The floors are a bare spawner
whose agents inherit its stdout (no pipes) and a bare script that gives every
agent a pipe and copies them all to its record (what any tool that shows and
keeps the agents' output must do at least). Every tool gets a fresh project
directory per round and runs twice in it: **cold** (empty caches, including
mesh-compose's interpreter-probe and validation caches) and **warm** (the same
directory again). Medians; ratios are within this run. What is measured, and
how, is in [`benchmarks/README.md`](../benchmarks/README.md)."""


def render(results: Mapping[str, Any], kept: str) -> str:
    parts = ["# Benchmarks", INTRO, header(results), "## Headline (for the README)", headline(results)]
    for title, body in tables.sections(results):
        parts += [f"## {title}", body]
    return "\n\n".join(part for part in parts if part) + "\n\n" + kept


def header(results: Mapping[str, Any]) -> str:
    info, settings = results["machine"], results["settings"]
    versions = ", ".join(f"{name} {version}" for name, version in results["versions"].items()) or "not installed"
    lines = [
        f"- **Command**: `{settings['command']}` (from the repository root, with mesh-compose installed: "
        "`pip install -e '.[test]'`)",
        f"- **Machine**: {info['cpus']} CPUs ({info['processor']}), {info['memory']}, {info['platform']}, "
        f"{info['python']}",
        f"- **Date**: {results['date']}; {tables.load_text(results)}",
        f"- **Peers**: {versions}",
        f"- **Settings**: {settings['agents']} agents, {settings['repeat']} round(s), {settings['idle_s']:g} s idle "
        f"window, {settings['flood_agents']} agents × {settings['flood_lines']:,} lines for the log test, "
        f"scale series {', '.join(map(str, settings['scale'])) or 'not run'}",
    ]
    return "\n".join(lines)


def readme_headline(results: Mapping[str, Any]) -> str:
    """The README's benchmark paragraph: which run, then the headline table."""
    info, settings = results["machine"], results["settings"]
    return (f"{settings['agents']} trivial agents on a {info['cpus']}-CPU machine, one interleaved run of "
            f"{results['date']} ({tables.load_text(results)}); the floors are a bare Python spawner without "
            "pipes and one that pipes and records every agent's output. The full tables, the scale series, "
            "the memory breakdown and what is left: [`docs/benchmarks.md`](docs/benchmarks.md).\n\n"
            + headline(results))


def headline(results: Mapping[str, Any]) -> str:
    """The README's table: mesh-compose beside honcho and supervisord, against both floors."""
    medians = results["medians"]
    tools = [name for name in ("mesh-compose", "honcho", "supervisord") if name in medians]
    quiet, piped = medians.get(FLOOR_NO_PIPES, {}), medians.get(FLOOR_PIPES, {})
    rows: list[list[str]] = []
    for label, metric, floor in (("all agents up, cold, × no-pipe floor", "up_cold_s", quiet),
                                 ("all agents up, warm, × no-pipe floor", "up_warm_s", quiet),
                                 ("all agents up, warm, × pipe floor", "up_warm_s", piped),
                                 ("all agents stopped, × no-pipe floor", "stop_s", quiet)):
        rows.append([label, *(ratio(medians[tool].get(metric), floor.get(metric)) for tool in tools)])
    rows.append(["idle memory, RSS (USS) MB", *(_memory(medians[tool]) for tool in tools)])
    rows.append(["log lines/s through the tool", *(_rate(medians[tool].get("log_lines_per_s"), medians)
                                                   for tool in tools)])
    rows.append(["idle CPU", *(_percent(medians[tool].get("idle_cpu_percent")) for tool in tools)])
    status = {"mesh-compose": ("`ps`", "status_s"), "supervisord": ("`supervisorctl status`", "status_s")}
    rows.append(["status command", *(_command(medians[tool], *status[tool]) if tool in status else "–"
                                     for tool in tools)])
    return table(["", *tools], rows)


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value:.3f} %"


def _command(values: Mapping[str, float], label: str, metric: str) -> str:
    value = values.get(metric)
    return "–" if value is None else f"{label} {value * 1000:.0f} ms"


def _memory(values: Mapping[str, float]) -> str:
    rss, uss = values.get("rss_mb"), values.get("uss_mb")
    return "–" if rss is None else f"{rss:.1f} ({uss:.1f})" if uss is not None else f"{rss:.1f}"


def _rate(value: Any, medians: Mapping[str, Any]) -> str:
    if not value:
        return "–"
    honcho = medians.get("honcho", {}).get("log_lines_per_s")
    text = f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.0f} k"
    return text + (f" ({value / honcho:.0f}× honcho)" if honcho and value != honcho else "")
