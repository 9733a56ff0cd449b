"""The performance budgets of the design, checked against one run's results: PASS, MISS or n/a with what was measured."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from runners import FLOOR_NO_PIPES, FLOOR_PIPES

MESH, DETACHED, ORDERED = "mesh-compose", "mesh-compose -d", "mesh-compose (depends_on)"
RSS_LIMIT_MB = 25.0

Row = dict[str, str]


def rows(results: Mapping[str, Any]) -> list[Row]:
    table = results["medians"]
    mesh, floor = table.get(MESH, {}), table.get(FLOOR_NO_PIPES, {})
    found = [
        cold_up(table),
        _ratio("warm `up` ≤ 1.15× the no-pipe floor", mesh.get("up_warm_s"), floor.get("up_warm_s"), 1.15),
        stop(table),
        idle_rss(results),
        *_pair("`up -d` ≤ 1.2× foreground `up`", table, "up", 1.2),
        *_pair("`down` ≤ 1.3× the Ctrl+C stop (until the prompt is back)", table, "exit", 1.3),
        _ratio("`ps` ≤ 0.9× `supervisorctl status`", mesh.get("status_s"),
               table.get("supervisord", {}).get("status_s"), 0.9),
        lean_imports(results.get("imports", {})),
        plan(results.get("plan")),
        scale(results.get("scale"), results.get("settings", {})),
        _ratio("log pump ≥ 30× honcho's line rate", mesh.get("log_lines_per_s"),
               table.get("honcho", {}).get("log_lines_per_s"), 30.0, lower_is_better=False),
        idle_cpu(mesh.get("idle_cpu_percent"), float(results["settings"]["idle_s"])),
        *against_peers(results),
    ]
    return found


def against_peers(results: Mapping[str, Any]) -> list[Row]:
    """At every agent count, cold `up` and stop at or below honcho's ratio to the
    no-pipe floor (the stop with and without the `depends_on` tree); the tool's own idle RSS at
    or below circus's (helpers, such as the log keeper, are reported apart)."""
    by_count = {**{int(count): table for count, table in (results.get("small") or {}).items()},
                int(results["settings"]["agents"]): results["medians"]}
    found = []
    for count, table in sorted(by_count.items()):
        floor, honcho = table.get(FLOOR_NO_PIPES, {}), table.get("honcho", {})
        found.append(_versus(f"cold `up` of {count} agents ≤ honcho's ratio to the no-pipe floor",
                             table.get(MESH, {}).get("up_cold_s"), honcho.get("up_cold_s"), floor.get("up_cold_s")))
        for tool, what in ((MESH, "no dependencies"), (ORDERED, "`depends_on` tree")):
            found.append(_versus(f"stop of {count} agents ({what}) ≤ honcho's ratio to the no-pipe floor",
                                 table.get(tool, {}).get("stop_s"), honcho.get("stop_s"), floor.get("stop_s")))
    table = results["medians"]
    mesh, circus = table.get(MESH, {}).get("rss_mb"), table.get("circus", {}).get("rss_mb")
    label = f"idle RSS of the foreground supervisor ≤ circus's ({results['settings']['agents']} agents)"
    if mesh is None or circus is None:
        found.append(_row(label, "n/a", "not measured"))
    else:
        keeper = table.get(MESH, {}).get("helpers_rss_mb")
        detail = f"{mesh:.1f} MB vs circus {circus:.1f} MB" + (
            f" (log keeper apart: {keeper:.1f} MB)" if keeper is not None else "")
        found.append(_row(label, _verdict(mesh <= circus), detail))
    return found


def _versus(label: str, mesh: float | None, peer: float | None, floor: float | None) -> Row:
    if mesh is None or peer is None or not floor:
        return _row(label, "n/a", "not measured")
    return _row(label, _verdict(mesh <= peer), f"{mesh / floor:.2f}× vs honcho {peer / floor:.2f}×")


def cold_up(table: Mapping[str, dict[str, float]]) -> Row:
    label = "cold `up` no slower than honcho, relative to the same floor"
    mesh, honcho = table.get(MESH, {}).get("up_cold_s"), table.get("honcho", {}).get("up_cold_s")
    if mesh is None or honcho is None:
        return _row(label, "n/a", "not measured")
    parts = []
    for floor, name in ((FLOOR_NO_PIPES, "no-pipe"), (FLOOR_PIPES, "pipe")):
        base = table.get(floor, {}).get("up_cold_s")
        if base:
            parts.append(f"{mesh / base:.2f}× vs honcho {honcho / base:.2f}× ({name} floor)")
    return _row(label, _verdict(mesh <= honcho), "; ".join(parts))


def stop(table: Mapping[str, dict[str, float]]) -> Row:
    label = "stop ≤ 1.2× the no-pipe floor, reverse order kept (`depends_on` tree)"
    ordered, base = table.get(ORDERED, {}), table.get(FLOOR_NO_PIPES, {}).get("stop_s")
    value, edges = ordered.get("stop_s"), ordered.get("order_edges")
    if value is None or not base or edges is None:
        return _row(label, "n/a", "not measured")
    bad = ordered.get("order_violations", 0.0)
    order = "order kept" if not bad else f"{bad:.0f} of {edges:.0f} edges out of order"
    plain = table.get(MESH, {}).get("stop_s")
    detail = f"{value / base:.2f}×, {order}" + (f" (no dependencies: {plain / base:.2f}×)" if plain else "")
    return _row(label, _verdict(value / base <= 1.2 and not bad), detail)


def idle_rss(results: Mapping[str, Any]) -> Row:
    memory = results.get("memory") or {}
    agents = memory.get("agents", results["settings"]["agents"])
    label = f"idle supervisor RSS ≤ {RSS_LIMIT_MB:.0f} MB ({agents} agents)"
    measured = {entry["label"]: entry["rss_mb"] for entry in memory.get("supervisors", []) if entry.get("rss_mb")}
    if not measured:
        rss = results["medians"].get(MESH, {}).get("rss_mb")
        if rss is None:
            return _row(label, "n/a", "not measured")
        measured = {"foreground `up`": rss}
    detail = ", ".join(f"{name}: {value:.1f} MB" for name, value in measured.items())
    return _row(label, _verdict(max(measured.values()) <= RSS_LIMIT_MB), detail)


def lean_imports(found: Mapping[str, Mapping[str, Any]]) -> Row:
    label = "`--help` and `ps` import neither networkx nor jsonschema"
    checked = {command: entry for command, entry in found.items() if command.startswith("mesh-compose")}
    if len(checked) < 2:
        return _row(label, "n/a", "not measured")
    heavy = [f"{command} imports {package}" for command, entry in checked.items()
             for package in ("networkx", "jsonschema") if entry.get(package)]
    return _row(label, _verdict(not heavy), "; ".join(heavy) or "neither, in " + " and ".join(checked))


def plan(found: Mapping[str, Any] | None) -> Row:
    agents = found.get("agents", 1000) if found else 1000
    label = f"a {agents:,}-agent file validates and plans in < 1 s (`config -q`, cold cache)"
    if not found or found.get("config_cold_s") is None:
        return _row(label, "n/a", "not measured")
    cold, warm, inside = found["config_cold_s"], found.get("config_warm_s"), found.get("in_process_total_s")
    detail = f"{cold:.3f} s" + (f"; warm {warm:.3f} s" if warm is not None else "")
    detail += f"; in-process load + plan {inside:.3f} s" if inside is not None else ""
    return _row(label, _verdict(cold < 1.0), detail)


def scale(series: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> Row:
    counts = settings.get("scale") or []
    label = f"{', '.join(map(str, counts)) or 'N'} agents up and down without an error"
    if not series:
        return _row(label, "n/a", "not run")
    failed = {tool: note for tool, note in series.get("notes", {}).items() if tool in (MESH, DETACHED)}
    detail = "; ".join(f"{tool}: {note}" for tool, note in failed.items()) or "mesh-compose and `up -d` at every count"
    others = [tool for tool in series.get("notes", {}) if tool not in failed]
    if others:
        detail += f" (stopped early: {', '.join(others)})"
    return _row(label, _verdict(not failed), detail)


def idle_cpu(value: float | None, idle_seconds: float) -> Row:
    # "Not measurable": at most one clock tick (the resolution of cpu_times) over the window.
    limit = 100.0 * _clock_tick() / idle_seconds
    label = f"idle CPU not measurable (≤ {limit:.2f} %)"
    if value is None:
        return _row(label, "n/a", "not measured")
    return _row(label, _verdict(value <= limit + 1e-9), f"{value:.3f} %")


def _pair(label: str, table: Mapping[str, dict[str, float]], metric: str, limit: float) -> list[Row]:
    front, back = table.get(MESH, {}), table.get(DETACHED, {})
    return [_ratio(f"{label}, {case}", back.get(f"{metric}_{case}_s"), front.get(f"{metric}_{case}_s"), limit)
            for case in ("cold", "warm")]


def _ratio(label: str, value: float | None, base: float | None, limit: float, *,
           lower_is_better: bool = True) -> Row:
    if value is None or not base:
        return _row(label, "n/a", "not measured")
    measured = value / base
    return _row(label, _verdict(measured <= limit if lower_is_better else measured >= limit), f"{measured:.2f}×")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _row(budget: str, verdict: str, detail: str) -> Row:
    return {"budget": budget, "verdict": verdict, "detail": detail}


def _clock_tick() -> float:
    try:
        return 1.0 / os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 0.01
