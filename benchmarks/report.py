"""Medians, ratios to the bare script, the budgets from DESIGN.md; a table and JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path
from typing import Dict, List, Optional

Samples = Dict[str, Dict[str, List[float]]]  # tool -> metric -> samples

FLOOR = "bare script"
LIFECYCLE = [("up_s", "up s", "{:.3f}"), ("stop_s", "stop s", "{:.3f}")]


def medians(samples: Samples) -> Dict[str, Dict[str, float]]:
    return {tool: {metric: statistics.median(values) for metric, values in metrics.items() if values}
            for tool, metrics in samples.items()}


def machine() -> Dict[str, str]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "?",
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
    }


def render(samples: Samples, notes: Dict[str, str], settings: Dict[str, object],
           versions: Dict[str, str], labels: Dict[str, str]) -> str:
    """`labels` names the command behind each tool's status_s/help_s, keyed "TOOL/METRIC"."""
    table = medians(samples)
    parts = [
        _header(settings, versions),
        _lifecycle(table),
        _logs(table),
        _cli(table, labels),
        _budgets(table, float(settings["idle_s"])),
    ]
    if notes:
        parts.append("Notes\n" + "\n".join(f"  {tool}: {note}" for tool, note in notes.items()))
    return "\n\n".join(part for part in parts if part) + "\n"


def write_json(path: Path, samples: Samples, notes: Dict[str, str], settings: Dict[str, object],
               versions: Dict[str, str]) -> None:
    document = {
        "machine": machine(), "settings": settings, "versions": versions,
        "medians": medians(samples), "samples": samples, "notes": notes,
        "budgets": [dict(zip(("budget", "verdict", "detail"), row))
                    for row in budget_rows(medians(samples), float(settings["idle_s"]))],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def budget_rows(table: Dict[str, Dict[str, float]], idle_seconds: float) -> List[tuple]:
    mesh, bare = table.get("mesh-compose", {}), table.get(FLOOR, {})
    rows = [
        _ratio_budget("up within 1.15x bare", mesh.get("up_s"), bare.get("up_s"), 1.15, lower_is_better=True),
        _ratio_budget("stop within 1.2x bare", mesh.get("stop_s"), bare.get("stop_s"), 1.2, lower_is_better=True),
        _ratio_budget("ps no slower than supervisorctl status", mesh.get("status_s"),
                      table.get("supervisord", {}).get("status_s"), 1.0, lower_is_better=True),
        _ratio_budget("logs at least 10x honcho", mesh.get("log_lines_per_s"),
                      table.get("honcho", {}).get("log_lines_per_s"), 10.0, lower_is_better=False),
    ]
    cpu = mesh.get("idle_cpu_percent")
    # "No measurable CPU": at most one clock tick (the resolution of cpu_times) over the window.
    limit = 100.0 * _clock_tick() / idle_seconds
    verdict = "n/a" if cpu is None else ("PASS" if cpu <= limit + 1e-9 else "MISS")
    rows.append((f"idle CPU not measurable (<= {limit:.2f}%)", verdict, "" if cpu is None else f"{cpu:.3f}%"))
    return rows


def _clock_tick() -> float:
    try:
        return 1.0 / os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 0.01


def _ratio_budget(label: str, value: Optional[float], base: Optional[float], limit: float,
                  *, lower_is_better: bool) -> tuple:
    if value is None or not base:
        return (label, "n/a", "not measured")
    ratio = value / base
    ok = ratio <= limit if lower_is_better else ratio >= limit
    return (label, "PASS" if ok else "MISS", f"{ratio:.2f}x")


def _header(settings: Dict[str, object], versions: Dict[str, str]) -> str:
    info = machine()
    peers = ", ".join(f"{name} {version}" for name, version in versions.items()) or "peers not installed"
    shown = " ".join(f"{key}={value}" for key, value in settings.items())
    return (f"mesh-compose benchmarks — {info['platform']}, {info['cpus']} CPUs, Python {info['python']}\n"
            f"peers: {peers}\nsettings: {shown}\n(medians; ratios are to the bare script)")


def _lifecycle(table: Dict[str, Dict[str, float]]) -> str:
    bare = table.get(FLOOR, {})
    rows = [["tool", "up s", "x bare", "stop s", "x bare", "left behind", "idle CPU %", "RSS MB", "USS MB"]]
    for tool, values in table.items():
        if "up_s" not in values:
            continue
        rows.append([
            tool, _num(values.get("up_s"), "{:.3f}"), _ratio(values.get("up_s"), bare.get("up_s")),
            _num(values.get("stop_s"), "{:.3f}"), _ratio(values.get("stop_s"), bare.get("stop_s")),
            _num(values.get("left_behind"), "{:.0f}"), _num(values.get("idle_cpu_percent"), "{:.3f}"),
            _num(values.get("rss_mb"), "{:.1f}"), _num(values.get("uss_mb"), "{:.1f}"),
        ])
    return "Lifecycle\n" + _grid(rows) if len(rows) > 1 else ""


def _logs(table: Dict[str, Dict[str, float]]) -> str:
    bare = table.get(FLOOR, {}).get("log_lines_per_s")
    honcho = table.get("honcho", {}).get("log_lines_per_s")
    rows = [["tool", "lines/s", "x bare", "x honcho"]]
    for tool, values in table.items():
        rate = values.get("log_lines_per_s")
        if rate is not None:
            rows.append([tool, f"{rate:,.0f}", _ratio(rate, bare), _ratio(rate, honcho)])
    return "Log throughput (through the orchestrator to a file)\n" + _grid(rows) if len(rows) > 1 else ""


def _cli(table: Dict[str, Dict[str, float]], labels: Dict[str, str]) -> str:
    floor = table.get(FLOOR, {}).get("help_s")
    rows = [["command", "median ms", "x python -c pass"]]
    for tool, values in table.items():
        for metric in ("status_s", "help_s"):
            value = values.get(metric)
            if value is not None:
                name = labels.get(f"{tool}/{metric}", f"{tool} {metric}")
                rows.append([name, f"{value * 1000:.1f}", _ratio(value, floor)])
    return "CLI latency\n" + _grid(rows) if len(rows) > 1 else ""


def _budgets(table: Dict[str, Dict[str, float]], idle_seconds: float) -> str:
    rows = [["budget (DESIGN.md)", "verdict", "mesh-compose"], *[list(row) for row in budget_rows(table, idle_seconds)]]
    return "Budgets\n" + _grid(rows)


def _grid(rows: List[List[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join("  " + line for line in lines)


def _num(value: Optional[float], fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _ratio(value: Optional[float], base: Optional[float]) -> str:
    return "-" if value is None or not base else f"{value / base:.2f}x"
