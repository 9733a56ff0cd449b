"""Run the same work through two bare floors, honcho, circus, pm2, supervisord and mesh-compose.

    python benchmarks/run.py [--agents 5,50] [--repeat K] [--scale 50,200,500] [--quick] [--markdown PATH] [--readme README.md]

Tools are interleaved within each round (and the order rotates between
rounds), so drift in the machine's load hits every tool alike. Each round
gives every tool a fresh project directory and runs it twice there: cold
(first run: empty caches) and warm (the same directory again), at every
agent count given; the largest count also gets the idle, status and log
measurements. A tool that does not do the work is skipped from then on, with
a note in the report. The load average is read at the start, before every
round and step, and at the end, each time once the load the run itself (or
whatever ran just before it) caused has drained (at most 4 minutes): a run
whose load stayed above the core count
is not written to a page or the README (`--unpublishable` writes it marked).
After the rounds come the scale series, the 1,000-agent file
(`bench_plan.py`) and the memory breakdown (`bench_memory.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import imports  # noqa: E402
import measure  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402
import workloads  # noqa: E402
from runners import FLOOR_NO_PIPES, FLOOR_PIPES, Session, Tool, all_tools, slug  # noqa: E402
from workloads import Workload  # noqa: E402

HERE = Path(__file__).resolve().parent
STEPS = ("flood", "scale", "plan", "memory")
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", help="agent counts, comma-separated (default 5,50); the largest also gets "
                        "the idle, status and log measurements")
    parser.add_argument("--repeat", type=int, help="rounds; medians are taken over them (default 3; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="a run of under 3 minutes on a quiet 2-core machine: "
                        "one round, fewer lines and idle seconds, no scale series, no memory breakdown")
    parser.add_argument("--idle", type=float, help="idle window for CPU, seconds (default 10; --quick 2)")
    parser.add_argument("--flood-agents", type=int, default=4, help="agents writing logs as fast as they can")
    parser.add_argument("--flood-lines", type=int, help="lines per flooding agent (default 100000; --quick 20000)")
    parser.add_argument("--scale", help="agent counts of the scale series, e.g. 50,200,500 (the default; "
                        "--quick: none); 'none' skips it")
    parser.add_argument("--scale-timeout", type=float, default=60.0,
                        help="seconds a tool gets to start, and to stop, at each scale count (default 60)")
    parser.add_argument("--memory-agents", type=int, default=50, help="agents for the memory breakdown (default 50)")
    parser.add_argument("--plan-agents", type=int, default=1000, help="agents in the file that must plan in < 1 s")
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {', '.join(STEPS)}")
    parser.add_argument("--tools", help="comma-separated subset, e.g. 'honcho,mesh-compose' (the floors always run)")
    parser.add_argument("--json", type=Path, default=peers.WORK / "results.json", help="where to write the JSON")
    parser.add_argument("--readme", type=Path, metavar="PATH",
                        help="also replace the headline between the markers in PATH (README.md) from this run")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the whole benchmarks page (e.g. docs/benchmarks.md) from this run")
    parser.add_argument("--unpublishable", action="store_true",
                        help="write --markdown/--readme even if the load rose above the core count, marked as such")
    parser.add_argument("--from-json", type=Path, metavar="PATH",
                        help="measure nothing: print the tables (and write --markdown) from a saved results.json")
    args = parser.parse_args(argv)
    quick = args.quick
    try:
        args.counts = sorted({int(part) for part in (args.agents or "5,50").split(",") if part.strip()})
    except ValueError:
        parser.error(f"--agents: expected counts such as 5,50, got {args.agents!r}")
    if not args.counts or min(args.counts) < 1:
        parser.error("--agents: every count must be at least 1")
    args.agents = args.counts[-1]
    args.repeat = args.repeat or (1 if quick else 3)
    args.idle = args.idle if args.idle is not None else (2.0 if quick else 10.0)
    args.flood_lines = args.flood_lines or (20_000 if quick else 100_000)
    args.cli_repeats = 3 if quick else 10
    scale_text = args.scale if args.scale is not None else ("none" if quick else "50,200,500")
    args.scale_counts = [] if scale_text.strip() in ("", "none") else [int(part) for part in scale_text.split(",")]
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if quick:
        args.skip.add("memory")
    unknown = args.skip - set(STEPS)
    if unknown:
        parser.error(f"--skip: unknown step(s) {', '.join(sorted(unknown))}; choose from {', '.join(STEPS)}")
    return args


class Bench:
    """One run: the tools, their workloads, the samples and the notes."""

    def __init__(self, args: argparse.Namespace, tools: list[Tool], notes: dict[str, str], token: str) -> None:
        self.args, self.tools, self.notes, self.token = args, tools, notes, token
        self.root = peers.WORK / "run"
        self.flood = {t.name: workloads.make_workload(self.root, slug(t.name), "flood", args.flood_agents,
                                                      args.flood_lines) for t in tools if t.flood}
        self.samples: report.Samples = {t.name: {} for t in tools}
        # The smaller agent counts: up and stop only, each tool interleaved as at the largest.
        self.small: dict[int, report.Samples] = {count: {t.name: {} for t in tools} for count in args.counts[:-1]}
        self.loads: list[float] = []
        self.imports: dict[str, dict[str, object]] = {}

    def round(self, number: int) -> None:
        shift = number % len(self.tools)
        order = self.tools[shift:] + self.tools[:shift]
        self.note_load()
        for count in self.small:
            for tool in order:
                self.guarded(tool, lambda tool_, number_, count_=count: self.small_lifecycle(tool_, number_, count_),
                             number, title=f"{count} agents")
        self.note_load()
        for tool in order:
            self.guarded(tool, self.lifecycle, number)
        if "flood" not in self.args.skip:
            for tool in order:
                if tool.flood:
                    self.guarded(tool, self.log_flood, number)
        for tool in order:
            self.guarded(tool, self.help_latency, number)

    def note_load(self) -> None:
        self.loads.append(report.settled_load())

    def small_lifecycle(self, tool: Tool, number: int, count: int) -> None:
        """Cold and warm up and stop of `count` agents, in a fresh directory of their own."""
        workload = workloads.make_workload(self.root, slug(tool.name), f"idle{count}", count)
        for case in ("cold", "warm"):
            for metric, value in self.life(tool, workload, f"{number}-{case}", case, extras=False).items():
                self.small[count][tool.name].setdefault(metric, []).append(value)

    def lifecycle(self, tool: Tool, number: int) -> None:
        """A fresh directory (cold), then the same directory again (warm, with the idle measurements)."""
        workload = workloads.make_workload(self.root, slug(tool.name), "idle", self.args.agents)
        for case in ("cold", "warm"):
            self._add(tool, **self.life(tool, workload, f"{number}-{case}", case, extras=case == "warm"))

    def life(self, tool: Tool, workload: Workload, label: str, case: str, *, extras: bool,
             timeout: float = 60.0) -> dict[str, float]:
        """One up and stop of `workload`; `extras` adds the idle cost and status latency."""
        session, up = self.launch(tool, workload, label, timeout)
        values = {f"up_{case}_s": up}
        try:
            agents = measure.agent_processes(workload)
            if extras:
                values.update(self._while_idle(tool, session, agents, workload))
            asked = time.perf_counter()
            tool.request_stop(session, workload)
            stopped = measure.wait_until_stopped(session, agents, asked, timeout=timeout)
            values.update({f"stop_{case}_s": stopped.stop_s, f"exit_{case}_s": stopped.exit_s,
                           "left_behind": float(stopped.left_behind)})
            if tool.ordered:
                bad, edges = measure.stop_order_violations(workload, workloads.dependency_tree(workload.names))
                values.update(order_violations=float(bad), order_edges=float(edges))
        finally:
            measure.reap(session, self.token)
        return values

    def log_flood(self, tool: Tool, number: int) -> None:
        workload = self.flood[tool.name]
        session, _ = self.launch(tool, workload, str(number), 60.0)
        try:
            rate = measure.flood_rate(session, workload, timeout=120.0)
            self._add(tool, log_lines_per_s=rate)
            tool.request_stop(session, workload)
        finally:
            measure.reap(session, self.token)

    def help_latency(self, tool: Tool, number: int) -> None:
        argv = tool.help_argv()
        if not argv:
            return
        cwd = self.root
        self._add(tool, help_s=measure.cli_latency(argv, self.args.cli_repeats, tool.env, cwd))
        if tool.check_imports and tool.help_name and tool.help_name not in self.imports:
            self._import_check(tool.help_name, argv, tool.env, cwd)

    def launch(self, tool: Tool, workload: Workload, label: str, timeout: float) -> tuple[Session, float]:
        """Start the tool; seconds until every agent is up (and, for `up -d`, the command returned)."""
        workload.reset()
        output = workload.directory / f"output-{label}.log"
        output.unlink(missing_ok=True)
        started = time.perf_counter()
        session = tool.launch(workload, output)
        try:
            up = measure.wait_until_up(session, workload, started, timeout=timeout)
            if tool.returns_after_up:
                up = max(up, measure.wait_for_return(session, started, timeout=timeout))
            return session, up
        except BaseException:
            if session.proc.poll() is None:
                tool.request_stop(session, workload)
            measure.reap(session, self.token)
            raise

    def guarded(self, tool: Tool, step: Callable[[Tool, int], None], number: int, title: str = "") -> None:
        if tool.name in self.notes:
            return
        title = title or step.__name__.replace("_", " ")
        print(f"  round {number + 1}: {tool.name}: {title}", file=sys.stderr, flush=True)
        failure = measure.attempt(lambda: step(tool, number))
        if failure:
            self.notes[tool.name] = f"skipped ({title}): {failure}"

    def _while_idle(self, tool: Tool, session: Session, agents: list[psutil.Process],
                    workload: Workload) -> dict[str, float]:
        values: dict[str, float] = {}
        if tool.idle:
            idle = measure.idle_cost(session, agents, self.args.idle)
            if idle:
                values.update(idle_cpu_percent=idle.cpu_percent, rss_mb=idle.rss_mb, uss_mb=idle.uss_mb,
                              helpers_rss_mb=idle.helpers_rss_mb, helpers_uss_mb=idle.helpers_uss_mb,
                              helpers=float(idle.helpers))
        argv = tool.status_argv(workload)
        if argv and tool.status_name:
            env = tool.env_for(workload)
            failure = measure.attempt(lambda: values.update(
                status_s=measure.cli_latency(argv, self.args.cli_repeats, env, workload.directory)))
            if failure:
                self.notes.setdefault(f"{tool.name} ({tool.status_name})", f"skipped: {failure}")
            elif tool.check_imports and tool.status_name not in self.imports:
                self._import_check(tool.status_name, argv, env, workload.directory)
        return values

    def _import_check(self, label: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        try:
            self.imports[label] = imports.summary(imports.profile(argv, env, cwd))
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            self.notes.setdefault(f"import check of {label}", str(error))

    def _add(self, tool: Tool, **values: float) -> None:
        for metric, value in values.items():
            self.samples[tool.name].setdefault(metric, []).append(value)


def run_script(name: str, argv: list[str], output: Path, env: dict[str, str], timeout: float,
               notes: dict[str, str]) -> dict[str, object] | None:
    """One of the focused scripts (bench_plan.py, bench_memory.py), writing its JSON to `output`."""
    print(f"  {name} ...", file=sys.stderr, flush=True)
    output.unlink(missing_ok=True)
    command = [sys.executable, str(HERE / name), *argv, "--json", str(output)]
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        notes[name] = f"did not finish within {timeout:.0f}s"
        return None
    if result.returncode != 0 or not output.exists():
        lines = [line for line in result.stderr.splitlines() if line.strip()][-3:]
        notes[name] = f"exited {result.returncode}: {' | '.join(lines) or '(no output)'}"
        return None
    return json.loads(output.read_text())


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.from_json:
        return rerender(args.from_json, args.markdown, args.readme, args.unpublishable)
    started, load_before = time.time(), (report.settled_load(), *os.getloadavg()[1:])
    print("setting up the peers (honcho, supervisor, circus in benchmarks/.work/peers; pm2 in benchmarks/.work/pm2)"
          " ...", file=sys.stderr, flush=True)
    installed = peers.ensure_peers(peers.WORK / "pip.log")
    peers.compile_mesh_compose()
    token = uuid.uuid4().hex
    tools, notes = all_tools(installed, token)
    if args.tools:
        wanted = {name.strip() for name in args.tools.split(",")}
        tools = [tool for tool in tools if tool.name in wanted or tool.name in (FLOOR_NO_PIPES, FLOOR_PIPES)]
    bench = Bench(args, tools, notes, token)
    extra: dict[str, object] = {}
    try:
        for number in range(args.repeat):
            bench.round(number)
        bench.note_load()
        if args.scale_counts and "scale" not in args.skip:
            extra["scale"] = scale.run_series(bench, args.scale_counts, args.scale_timeout)
            bench.note_load()
        env = {**tools[0].env}
        if "plan" not in args.skip:
            extra["plan"] = run_script("bench_plan.py", ["--agents", str(args.plan_agents)],
                                       peers.WORK / "plan.json", env, 600.0, notes)
        if "memory" not in args.skip:
            extra["memory"] = run_script("bench_memory.py", ["--agents", str(args.memory_agents)],
                                         peers.WORK / "memory.json", env, 900.0, notes)
            bench.note_load()
    finally:
        measure.kill_tokened(token)
        for tool in tools:
            tool.close()
    results = report.assemble(
        bench.samples, notes, settings=_settings(args, argv), versions=peers.peer_versions(),
        labels={f"{t.name}/{metric}": label for t in tools
                for metric, label in (("status_s", t.status_name), ("help_s", t.help_name)) if label},
        imports=bench.imports, extra={**extra, "small": {str(count): report.medians(samples)
                                                          for count, samples in bench.small.items()}},
        timing={"started": started, "seconds": time.time() - started,
                "load_before": load_before, "load_after": (report.settled_load(), *os.getloadavg()[1:]),
                "load_seen": bench.loads},
    )
    report.write_json(args.json, results)
    print(report.render(results))
    print(f"JSON: {args.json}", file=sys.stderr)
    return _write_pages(results, args.markdown, args.readme, args.unpublishable)


def _write_pages(results: dict, markdown: Path | None, readme: Path | None, unpublishable: bool = False) -> int:
    """Write the page and the headline, unless the run was too loaded to publish (exit code 3)."""
    reason = report.unpublishable(results)
    if reason and (markdown or readme):
        if not unpublishable:
            print(f"not writing {', '.join(str(path) for path in (markdown, readme) if path)}: {reason}. "
                  "Run again on a quiet machine, or pass --unpublishable to write it marked as such.",
                  file=sys.stderr)
            return 3
        results["unpublishable"] = reason
    if markdown:
        report.write_page(markdown, results)
        print(f"page: {markdown}", file=sys.stderr)
    if readme:
        report.write_readme(readme, results)
        print(f"headline: {readme}", file=sys.stderr)
    return 0


def rerender(saved: Path, markdown: Path | None, readme: Path | None = None, unpublishable: bool = False) -> int:
    """The tables and page of an earlier run, through the current report code."""
    import budgets

    results = json.loads(saved.read_text())
    results["budgets"] = budgets.rows(results)
    print(report.render(results))
    return _write_pages(results, markdown, readme, unpublishable)


def _settings(args: argparse.Namespace, argv: list[str]) -> dict[str, object]:
    return {"agents": args.agents, "counts": args.counts, "repeat": args.repeat, "idle_s": args.idle,
            "flood_agents": args.flood_agents, "flood_lines": args.flood_lines,
            "scale": args.scale_counts if "scale" not in args.skip else [],
            "scale_timeout_s": args.scale_timeout, "memory_agents": args.memory_agents,
            "plan_agents": args.plan_agents, "skipped": sorted(args.skip),
            "command": " ".join(["python", "benchmarks/run.py", *argv])}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
