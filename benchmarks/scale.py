"""The scale series: every tool starts and stops N agents, for each N given.

Each count gets a fresh directory per tool, run cold and then warm like the
lifecycle rounds, tools interleaved with the order rotating per count. One
sample per count and case (a 500-agent start is long enough to be stable,
and the series is about how the ratios grow). A tool gets `timeout` seconds
to start and again to stop; one that fails or leaves an agent behind at some
count is reported with the reason and not run at the larger counts.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TYPE_CHECKING

import measure
import workloads
from runners import Tool, slug

if TYPE_CHECKING:
    from run import Bench

CASES = ("cold", "warm")


def run_series(bench: Bench, counts: list[int], timeout: float) -> dict[str, object]:
    """{"counts", "values": {count: {tool: {metric: value}}}, "notes": {tool: why it stopped}}."""
    tools = [tool for tool in bench.tools if tool.scale and tool.name not in bench.notes]
    values: dict[str, dict[str, dict[str, float]]] = {}
    notes: dict[str, str] = {}
    for index, count in enumerate(counts):
        shift = index % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            if tool.name in notes:
                continue
            print(f"  scale {count}: {tool.name}", file=sys.stderr, flush=True)
            measured, failure = _one(bench, tool, count, timeout)
            values.setdefault(str(count), {})[tool.name] = measured
            if failure:
                notes[tool.name] = f"{count} agents: {failure}"
    return {"counts": counts, "timeout_s": timeout, "values": values, "notes": notes}


def _one(bench: Bench, tool: Tool, count: int, timeout: float) -> tuple[dict[str, float], str]:
    """Cold and warm up/stop of `count` agents; the values, and why it failed ('' if it did not)."""
    workload = workloads.make_workload(bench.root / "scale", slug(tool.name), "idle", count)
    measured: dict[str, float] = {}
    left = 0.0
    started = time.perf_counter()
    try:
        for case in CASES:
            found: dict[str, float] = {}
            failure = measure.attempt(lambda: found.update(
                bench.life(tool, workload, f"{count}-{case}", case, extras=False, timeout=timeout)))
            left += found.pop("left_behind", 0.0)
            measured.update(found)
            if failure:
                return measured, f"{case} run: {failure}"
            if left:
                return measured, f"{left:.0f} agents still alive {timeout:.0f}s after the stop request"
        return measured, ""
    finally:
        measured["wall_s"] = time.perf_counter() - started
        shutil.rmtree(workload.directory, ignore_errors=True)
