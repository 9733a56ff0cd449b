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
from runners import FLOOR_NO_PIPES

KEEP = "<!-- Everything below this line is written by hand; `benchmarks/run.py --markdown` keeps it. -->"

INTRO = """\
The latest run of `benchmarks/run.py`: the same trivial standard-library
agents through two floors, honcho, circus, pm2, supervisord and mesh-compose, interleaved
in one run (the order rotating every round). The floors are a bare spawner
whose agents inherit its stdout (no pipes) and a bare script that gives every
agent a pipe and copies them all to its record (what any tool that shows and
keeps the agents' output must do at least). Every tool gets a fresh project
directory per round and runs twice in it: **cold** (empty caches, including
mesh-compose's interpreter-probe and validation caches) and **warm** (the same
directory again). Medians; ratios are within this run. What is measured, and
how, is in [`benchmarks/README.md`](../benchmarks/README.md)."""


def render(results: Mapping[str, Any], kept: str) -> str:
    parts = ["# Benchmarks", INTRO, _unpublishable_mark(results) + header(results), "## Headline (for the README)",
             headline(results)]
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
        f"- **Settings**: {' and '.join(map(str, settings.get('counts', [settings['agents']])))} agents "
        f"(idle, status and logs at {settings['agents']}), {settings['repeat']} round(s), {settings['idle_s']:g} s idle "
        f"window, {settings['flood_agents']} agents × {settings['flood_lines']:,} lines for the log test, "
        f"scale series {', '.join(map(str, settings['scale'])) or 'not run'}",
    ]
    return "\n".join(lines)


def readme_headline(results: Mapping[str, Any]) -> str:
    """The README's benchmark paragraph: which run, then the headline table."""
    info, settings = results["machine"], results["settings"]
    counts = " and ".join(str(count) for count in settings.get("counts", [settings["agents"]]))
    text = (f"{counts} trivial agents on a {info['cpus']}-CPU machine, one interleaved run of "
            f"{results['date']} ({tables.load_text(results)}); ratios are to a bare Python spawner "
            "(its seconds in brackets). The full tables, the scale series, the memory breakdown and what is "
            "left: [`docs/benchmarks.md`](docs/benchmarks.md).\n\n")
    return _unpublishable_mark(results) + text + headline(results)


PEERS = ("mesh-compose", "honcho", "circus", "pm2", "supervisord")


def headline(results: Mapping[str, Any]) -> str:
    """The README's table: mesh-compose beside honcho, circus, pm2 and supervisord, at every agent count."""
    medians = results["medians"]
    by_count = {**{int(count): values for count, values in (results.get("small") or {}).items()},
                int(results["settings"]["agents"]): medians}
    tools = [name for name in PEERS if name in medians]
    rows: list[list[str]] = []
    for count, table_ in sorted(by_count.items()):
        floor = table_.get(FLOOR_NO_PIPES, {})
        for case in ("cold", "warm"):
            metric = f"up_{case}_s"
            rows.append([f"`up`, {count} agents, {case} ({_floor(floor.get(metric))})",
                         *(ratio(table_.get(tool, {}).get(metric), floor.get(metric)) for tool in tools)])
    count = int(results["settings"]["agents"])
    floor = medians.get(FLOOR_NO_PIPES, {})
    rows.append([f"stop, {count} agents ({_floor(floor.get('stop_s'))})",
                 *(ratio(medians[tool].get("stop_s"), floor.get("stop_s")) for tool in tools)])
    ordered = medians.get(tables.ORDERED, {})
    if ordered.get("stop_s") is not None:
        rows.append([f"stop, {count} agents, {ordered.get('order_edges', 0):.0f}-edge `depends_on` tree "
                     f"(reverse order: {tables.order_text(ordered)})",
                     *(ratio(ordered.get("stop_s"), floor.get("stop_s")) if tool == "mesh-compose" else "–"
                       for tool in tools)])
    rows.append([f"idle RSS (USS) MB, {count} agents: the tool's own process",
                 *(_memory(medians[tool]) for tool in tools)])
    rows.append(["… and its helper processes (log keeper, forks)",
                 *(tables.helpers_text(medians[tool]) for tool in tools)])
    rows.append(["log lines/s through the tool", *(_rate(medians[tool].get("log_lines_per_s"), medians)
                                                   for tool in tools)])
    rows.append(["idle CPU", *(_percent(medians[tool].get("idle_cpu_percent")) for tool in tools)])
    status = {"mesh-compose": ("`ps`", "status_s"), "supervisord": ("`supervisorctl status`", "status_s")}
    rows.append(["status command", *(_command(medians[tool], *status[tool]) if tool in status else "–"
                                     for tool in tools)])
    return table(["", *tools], rows)


def _floor(value: Any) -> str:
    return "floor –" if value is None else f"floor {value:.3f} s"


def _unpublishable_mark(results: Mapping[str, Any]) -> str:
    reason = results.get("unpublishable")
    return f"**Not publishable: {reason}.**\n\n" if reason else ""


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
