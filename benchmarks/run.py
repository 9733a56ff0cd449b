"""Run the same work through a bare script, honcho, supervisord and mesh-compose.

    python benchmarks/run.py [--agents N] [--repeat K] [--quick]

Tools are interleaved within each round (and the order rotates between
rounds), so drift in the machine's load hits every tool alike. A tool that
does not do the work is skipped from then on, with a note in the report.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402
from runners import Session, Tool, ToolFailed, all_tools  # noqa: E402
from workloads import Workload  # noqa: E402


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, help="agents per tool (default 50; --quick 10)")
    parser.add_argument("--repeat", type=int, help="rounds; medians are taken over them (default 3; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: fewer agents, lines, idle seconds")
    parser.add_argument("--idle", type=float, help="idle window for CPU, seconds (default 10; --quick 2)")
    parser.add_argument("--flood-agents", type=int, default=4, help="agents writing logs as fast as they can")
    parser.add_argument("--flood-lines", type=int, help="lines per flooding agent (default 100000; --quick 20000)")
    parser.add_argument("--tools", help="comma-separated subset, e.g. 'bare script,mesh-compose'")
    parser.add_argument("--json", type=Path, default=peers.WORK / "results.json", help="where to write the JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    args.agents = args.agents or (10 if quick else 50)
    args.repeat = args.repeat or (1 if quick else 3)
    args.idle = args.idle if args.idle is not None else (2.0 if quick else 10.0)
    args.flood_lines = args.flood_lines or (20_000 if quick else 100_000)
    args.cli_repeats = 3 if quick else 10
    return args


class Bench:
    """One run: the tools, their workloads, the samples and the notes."""

    def __init__(self, args: argparse.Namespace, tools: List[Tool], notes: Dict[str, str], token: str) -> None:
        self.args, self.tools, self.notes, self.token = args, tools, notes, token
        root = peers.WORK / "run"
        self.idle = {t.name: workloads.make_workload(root, _slug(t.name), "idle", args.agents) for t in tools}
        self.flood = {t.name: workloads.make_workload(root, _slug(t.name), "flood", args.flood_agents,
                                                      args.flood_lines) for t in tools if t.flood}
        self.samples: report.Samples = {t.name: {} for t in tools}

    def round(self, number: int) -> None:
        shift = number % len(self.tools)
        order = self.tools[shift:] + self.tools[:shift]
        for tool in order:
            self._guarded(tool, self.lifecycle, number)
        for tool in order:
            if tool.flood:
                self._guarded(tool, self.log_flood, number)
        for tool in order:
            self._guarded(tool, self.help_latency, number)

    def lifecycle(self, tool: Tool, number: int) -> None:
        workload = self.idle[tool.name]
        session, up = self._launch(tool, workload, number)
        try:
            agents = measure.agent_processes(workload)
            idle = measure.idle_cost(session, agents, self.args.idle)
            if idle:
                self._add(tool, idle_cpu_percent=idle.cpu_percent, rss_mb=idle.rss_mb, uss_mb=idle.uss_mb)
            self._status_latency(tool, workload)
            asked = time.perf_counter()
            tool.request_stop(session, workload)
            measure.check_stop_command(session)
            stop, left = measure.wait_until_gone(agents, asked, timeout=30.0)
            self._add(tool, up_s=up, stop_s=stop, left_behind=float(left))
        finally:
            measure.reap(session, self.token)

    def log_flood(self, tool: Tool, number: int) -> None:
        workload = self.flood[tool.name]
        session, _ = self._launch(tool, workload, number)
        try:
            rate = measure.flood_rate(session, workload, timeout=120.0)
            self._add(tool, log_lines_per_s=rate)
            tool.request_stop(session, workload)
        finally:
            measure.reap(session, self.token)

    def help_latency(self, tool: Tool, number: int) -> None:
        argv = tool.help_argv()
        if argv:
            cwd = self.idle[tool.name].directory
            self._add(tool, help_s=measure.cli_latency(argv, self.args.cli_repeats, tool.env, cwd))

    def _launch(self, tool: Tool, workload: Workload, number: int) -> tuple[Session, float]:
        workload.reset()
        output = workload.directory / f"output-{number}.log"
        output.unlink(missing_ok=True)
        started = time.perf_counter()
        session = tool.launch(workload, output)
        try:
            return session, measure.wait_until_up(session, workload, started, timeout=60.0)
        except BaseException:
            if session.proc.poll() is None:
                tool.request_stop(session, workload)
            measure.reap(session, self.token)
            raise

    def _status_latency(self, tool: Tool, workload: Workload) -> None:
        argv = tool.status_argv(workload)
        if not argv:
            return
        try:
            self._add(tool, status_s=measure.cli_latency(argv, self.args.cli_repeats, tool.env, workload.directory))
        except ToolFailed as failure:
            self.notes.setdefault(f"{tool.name} ({tool.status_name})", f"skipped: {failure}")

    def _guarded(self, tool: Tool, step, number: int) -> None:
        if tool.name in self.notes:
            return
        print(f"  round {number + 1}: {tool.name}: {step.__name__.replace('_', ' ')}", file=sys.stderr, flush=True)
        try:
            step(tool, number)
        except ToolFailed as failure:
            self.notes[tool.name] = f"skipped ({step.__name__.replace('_', ' ')}): {failure}"
        except (OSError, subprocess.SubprocessError, psutil.Error) as error:
            # A tool that cannot even be run is a finding for the report, not a crash of the run.
            self.notes[tool.name] = f"skipped ({step.__name__.replace('_', ' ')}): {type(error).__name__}: {error}"

    def _add(self, tool: Tool, **values: float) -> None:
        for metric, value in values.items():
            self.samples[tool.name].setdefault(metric, []).append(value)


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    print("setting up the peers (honcho, supervisor) in benchmarks/.work/peers ...", file=sys.stderr, flush=True)
    installed = peers.ensure_peers(peers.WORK / "pip.log")
    token = uuid.uuid4().hex
    tools, notes = all_tools(installed, token)
    if args.tools:
        wanted = {name.strip() for name in args.tools.split(",")}
        tools = [tool for tool in tools if tool.name in wanted or tool.name == report.FLOOR]
    bench = Bench(args, tools, notes, token)
    try:
        for number in range(args.repeat):
            bench.round(number)
    finally:
        measure.kill_tokened(token)
    settings = {"agents": args.agents, "repeat": args.repeat, "idle_s": args.idle,
                "flood_agents": args.flood_agents, "flood_lines": args.flood_lines}
    versions = peers.peer_versions()
    samples = {tool: metrics for tool, metrics in bench.samples.items() if metrics}
    labels = {f"{t.name}/{metric}": label for t in tools
              for metric, label in (("status_s", t.status_name), ("help_s", t.help_name)) if label}
    print(report.render(samples, bench.notes, settings, versions, labels))
    report.write_json(args.json, samples, bench.notes, settings, versions)
    print(f"JSON: {args.json}", file=sys.stderr)
    return 0


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
