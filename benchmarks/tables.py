"""The report's tables, in markdown, each from the run's `results` (see report.assemble)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from report import number, ratio, seconds, table
from runners import FLOOR_NO_PIPES, FLOOR_PIPES

MESH, DETACHED, ORDERED = "mesh-compose", "mesh-compose -d", "mesh-compose (depends_on)"
SHOWN = {
    FLOOR_NO_PIPES: "bare spawner, no pipes (floor)",
    FLOOR_PIPES: "bare script, pipes + record (floor)",
    MESH: "mesh-compose (`up`, Ctrl+C)",
    DETACHED: "mesh-compose (`up -d`, `down`)",
    ORDERED: "mesh-compose, `depends_on` tree (`up`, Ctrl+C)",
}
NO_PIPE, PIPE = "× no-pipe floor", "× pipe floor"

Section = tuple[str, str]


def sections(results: Mapping[str, Any]) -> list[Section]:
    """(title, markdown) for every table this run has data for, in page order."""
    import bench_plan
    import memory_tables

    agents = results["settings"]["agents"]
    found: list[Section] = []
    for count, medians in (results.get("small") or {}).items():
        found += [(f"Start ({count} agents)", start(medians)), (f"Stop ({count} agents)", stop_and_idle(medians))]
    found += [
        (f"Start ({agents} agents)", start(results["medians"])),
        (f"Stop and idle ({agents} agents)", stop_and_idle(results["medians"])),
        (f"Detached mode ({agents} agents)", detached(results["medians"])),
    ]
    if results.get("scale"):
        found.append(("Scale", scale(results["scale"])))
    found += [("Log throughput", logs(results["medians"])), ("CLI latency", cli(results)),
              ("Imports on the start-up path of `--help` and `ps`", start_imports(results["imports"]))]
    if results.get("plan"):
        found.append((f"A {results['plan']['agents']:,}-agent file", bench_plan.table_text(results["plan"])))
    if results.get("memory"):
        found += memory_tables.sections(results["memory"])
    found.append(("Budgets", budgets(results["budgets"])))
    if results.get("notes"):
        found.append(("Notes", "\n".join(f"- **{tool}**: {note}" for tool, note in results["notes"].items())))
    return [(title, body) for title, body in found if body]


def start(table_: Mapping[str, dict[str, float]]) -> str:
    quiet, piped = table_.get(FLOOR_NO_PIPES, {}), table_.get(FLOOR_PIPES, {})
    header = ["tool", "cold up s", NO_PIPE, PIPE, "warm up s", NO_PIPE, PIPE]
    rows = []
    for tool, values in table_.items():
        if "up_cold_s" in values or "up_warm_s" in values:
            cold, warm = values.get("up_cold_s"), values.get("up_warm_s")
            rows.append([SHOWN.get(tool, tool), seconds(cold), ratio(cold, quiet.get("up_cold_s")),
                         ratio(cold, piped.get("up_cold_s")), seconds(warm), ratio(warm, quiet.get("up_warm_s")),
                         ratio(warm, piped.get("up_warm_s"))])
    return table(header, rows) if rows else ""


def stop_and_idle(table_: Mapping[str, dict[str, float]]) -> str:
    quiet, piped = table_.get(FLOOR_NO_PIPES, {}), table_.get(FLOOR_PIPES, {})
    header = ["tool", "stop s", NO_PIPE, PIPE, "prompt back s", "reverse order", "left behind",
              "idle CPU %", "RSS MB", "USS MB", "helpers: RSS (USS) MB"]
    rows = []
    for tool, values in table_.items():
        stop = values.get("stop_s")
        if stop is None:
            continue
        rows.append([SHOWN.get(tool, tool), seconds(stop), ratio(stop, quiet.get("stop_s")),
                     ratio(stop, piped.get("stop_s")), seconds(values.get("exit_s")), order_text(values),
                     number(values.get("left_behind"), "{:.0f}"), number(values.get("idle_cpu_percent"), "{:.3f}"),
                     number(values.get("rss_mb"), "{:.1f}"), number(values.get("uss_mb"), "{:.1f}"),
                     helpers_text(values)])
    return table(header, rows) if rows else ""


def helpers_text(values: Mapping[str, float]) -> str:
    """The tool's processes besides itself and the agents (mesh-compose's log keeper, honcho's forks)."""
    count = values.get("helpers")
    if count is None:
        return "–"
    if not count:
        return "none"
    return f"{values.get('helpers_rss_mb', 0.0):.1f} ({values.get('helpers_uss_mb', 0.0):.1f}) in {count:.0f}"


def order_text(values: Mapping[str, float]) -> str:
    edges = values.get("order_edges")
    if edges is None:
        return "–"
    bad = values.get("order_violations", 0.0)
    return f"kept ({edges:.0f} edges)" if not bad else f"**{bad:.0f} of {edges:.0f} edges out of order**"


def detached(table_: Mapping[str, dict[str, float]]) -> str:
    front, back = table_.get(MESH, {}), table_.get(DETACHED, {})
    if not back:
        return ""
    header = ["case", "`up` s (all up)", "`up -d` s (all up, returned)", "ratio (goal ≤ 1.2×)",
              "Ctrl+C s (prompt back)", "`down` s (returned)", "ratio (goal ≤ 1.3×)"]
    rows = []
    for case in ("cold", "warm"):
        up, up_d = front.get(f"up_{case}_s"), back.get(f"up_{case}_s")
        stop, down = front.get(f"exit_{case}_s"), back.get(f"exit_{case}_s")
        rows.append([case, seconds(up), seconds(up_d), ratio(up_d, up), seconds(stop), seconds(down),
                     ratio(down, stop)])
    return table(header, rows)


def scale(series: Mapping[str, Any]) -> str:
    counts = [str(count) for count in series["counts"]]
    values: Mapping[str, Mapping[str, dict[str, float]]] = series["values"]
    tools = list(dict.fromkeys(tool for count in counts for tool in values.get(count, {})))
    times = []
    for tool in tools:
        for count in counts:
            row = values.get(count, {}).get(tool)
            if row is not None:
                times.append([SHOWN.get(tool, tool), count, seconds(row.get("up_cold_s")),
                              seconds(row.get("up_warm_s")), seconds(_mean(row, "stop")),
                              seconds(_mean(row, "exit")), number(row.get("wall_s"), "{:.1f}")])
    text = table(["tool", "agents", "cold up s", "warm up s", "stop s", "prompt back s", "wall s"], times, left=2)
    joined = " / ".join(counts)
    ratios = []
    for tool in tools:
        cells = [SHOWN.get(tool, tool)]
        for metric, floor in (("up_cold_s", FLOOR_NO_PIPES), ("up_warm_s", FLOOR_NO_PIPES), ("up_warm_s", FLOOR_PIPES),
                              ("stop", FLOOR_NO_PIPES), ("stop", FLOOR_PIPES)):
            cells.append(" / ".join(_scale_ratio(values.get(count, {}), tool, metric, floor) for count in counts))
        ratios.append(cells)
    header = ["tool", f"cold up {NO_PIPE} ({joined})", f"warm up {NO_PIPE}", f"warm up {PIPE}",
              f"stop {NO_PIPE}", f"stop {PIPE}"]
    text += "\n\nHow the ratios grow with the count:\n\n" + table(header, ratios)
    if series.get("notes"):
        text += "\n\n" + "\n".join(f"- **{tool}** stopped at {note} (not run at larger counts)"
                                   for tool, note in series["notes"].items())
    return text


def logs(table_: Mapping[str, dict[str, float]]) -> str:
    piped = table_.get(FLOOR_PIPES, {}).get("log_lines_per_s")
    honcho = table_.get("honcho", {}).get("log_lines_per_s")
    how = {FLOOR_NO_PIPES: " (agents write the file themselves)", "supervisord": " (one raw log file per agent)",
           MESH: " (merged, prefixed stream + per-agent log files)", "honcho": " (merged, prefixed stream)",
           FLOOR_PIPES: " (one loop copies every pipe to the file)"}
    rows = [[SHOWN.get(tool, tool) + how.get(tool, ""), f"{values['log_lines_per_s']:,.0f}",
             ratio(values["log_lines_per_s"], piped), ratio(values["log_lines_per_s"], honcho, bold=tool == MESH)]
            for tool, values in table_.items() if "log_lines_per_s" in values]
    return table(["tool", "lines/s", PIPE, "× honcho"], rows) if rows else ""


def cli(results: Mapping[str, Any]) -> str:
    table_, labels = results["medians"], results["labels"]
    floor = table_.get(FLOOR_NO_PIPES, {}).get("help_s")
    status = table_.get("supervisord", {}).get("status_s")
    rows = []
    for tool, values in table_.items():
        for metric in ("status_s", "help_s"):
            value = values.get(metric)
            if value is not None:
                name = labels.get(f"{tool}/{metric}", f"{tool} {metric}")
                rows.append([f"`{name}`", f"{value * 1000:.1f}", ratio(value, floor),
                             ratio(value, status) if metric == "status_s" else ""])
    return table(["command", "median ms", "× `python -c pass`", "× `supervisorctl status`"], rows) if rows else ""


def start_imports(found: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [[f"`{command}`", str(entry["modules"]), f"{entry['import_ms']:.1f}",
             _yes_no(entry["networkx"]), _yes_no(entry["jsonschema"])] for command, entry in found.items()]
    return table(["command", "modules imported", "import ms (sum of self)", "networkx", "jsonschema"],
                 rows) if rows else ""


def budgets(rows: list[dict[str, str]]) -> str:
    shown = [[row["budget"], row["verdict"] if row["verdict"] != "MISS" else "**MISS**", row["detail"]]
             for row in rows]
    return table(["goal", "verdict", "measured"], shown, left=3)


def load_text(results: Mapping[str, Any]) -> str:
    timing = results.get("timing", {})
    before, after = timing.get("load_before"), timing.get("load_after")
    if not before:
        return ""
    seen = timing.get("load_seen") or []
    highest = f", {max([before[0], after[0], *seen]):.2f} at most" if seen else ""
    return (f"load average {before[0]:.2f} at the start, {after[0]:.2f} at the end{highest}; "
            f"the run took {timing['seconds'] / 60:.1f} min")


def _mean(row: Mapping[str, float], name: str) -> float | None:
    found = [row[key] for key in (f"{name}_cold_s", f"{name}_warm_s") if key in row]
    return sum(found) / len(found) if found else None


def _scale_ratio(at_count: Mapping[str, dict[str, float]], tool: str, metric: str, floor: str) -> str:
    row, base = at_count.get(tool, {}), at_count.get(floor, {})
    value = _mean(row, metric) if metric in ("stop", "exit") else row.get(metric)
    base_value = _mean(base, metric) if metric in ("stop", "exit") else base.get(metric)
    return ratio(value, base_value) if value is not None and base_value else "–"


def _yes_no(flag: bool) -> str:
    return "**imported**" if flag else "not imported"
