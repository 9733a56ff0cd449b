"""A fresh fuzz of the project loader: N hostile projects, each within 20 s and 500 MB.

    python benchmarks/fuzz_config.py [--count 5000] [--seed S] [--jobs 2] [--cli-share 0.1] [--out DIR]

Each project comes from the generators in tests/support/config_strategies.py (every class a
fuzzer found: nesting in every place, control characters in every kind of field, huge numbers,
special files and long paths, pathological .env files, huge documents; and the older ones).
Most are loaded in a child forked from this process (no interpreter start-up per document); a
share goes through the real CLI (`python -m meshcompose config -q`). Every child is measured:
its peak RSS (wait4) and its wall time, and killed past the time budget.

A document fails when it prints a traceback (or ends by anything but a Project or a
ConfigError), runs over 20 s, or peaks over 500 MB. The failures are written to --out for
replay; the summary says how many documents of each class ran and what failed. A new seed
(the default: the time) makes a fresh fuzz; --seed replays one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from config_strategies import CASE_GENERATORS, Case, any_case, write_case  # noqa: E402

BUDGET_SECONDS = 20.0
BUDGET_BYTES = 500 * 1024 * 1024
EXIT_TRACEBACK = 70


def _load_in_child(path: Path, case: Case) -> int:
    """Runs in the forked child: 0 a project, 3 located errors, EXIT_TRACEBACK anything else."""
    from meshcompose.config import loader
    from meshcompose.errors import ConfigError
    from meshcompose.plan import planner

    try:
        project = loader.load_project([path], environ={"X": "5", **case.environ})
        planner.check(project)
        json.dumps(loader.project_to_dict(project), allow_nan=False)
    except ConfigError as error:
        return 3 if error.problems and all(p.message for p in error.problems) else EXIT_TRACEBACK
    except BaseException:  # what the fuzz is looking for
        traceback.print_exc()
        return EXIT_TRACEBACK
    return 0


def _run_forked(path: Path, case: Case, log: Path) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code
        code = EXIT_TRACEBACK
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(descriptor, 2)
            os.dup2(descriptor, 1)
            code = _load_in_child(path, case)
        finally:
            os._exit(code)
    return pid


def _run_cli(path: Path, case: Case, log: Path) -> int:
    """`config -q` in a child of ours (forked and exec'd, not a Popen: subprocess reaps dropped
    children behind our back, and wait4 must see every one)."""
    environ = {**os.environ, "X": "5", "MESH_COMPOSE_CACHE_DIR": str(path.parent / "cache")}
    environ.update({key: value for key, value in case.environ.items()
                    if "\0" not in value and value.encode("utf-8", "ignore").decode() == value})
    argv = [sys.executable, "-m", "meshcompose", "-f", str(path), "config", "-q"]
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(path.parent)
            descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(descriptor, 1)
            os.dup2(descriptor, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execve(sys.executable, argv, environ)
        finally:
            os._exit(127)
    return pid


class Fuzz:
    """The documents made, the children running, and what they measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.kinds = [*sorted(CASE_GENERATORS), "older"]
        work = Path(tempfile.mkdtemp(prefix="fuzz-config-"))
        self.free = [work / f"slot{i}" for i in range(args.jobs)]
        for slot in self.free:
            slot.mkdir()
        os.environ["MESH_COMPOSE_CACHE_DIR"] = str(work / "cache")
        self.running: dict[int, tuple[Path, str, Case, float, bool]] = {}
        self.ran: Counter[str] = Counter()
        self.failures: list[dict[str, object]] = []
        self.timings: list[tuple[float, int, str, bool, str, list[str]]] = []
        self.made = 0
        self.started = time.monotonic()

    def run(self) -> None:
        while self.made < self.args.count or self.running:
            while self.free and self.made < self.args.count:
                self._start()
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for late, (_, _, _, began, _) in list(self.running.items()):
                    if now - began > BUDGET_SECONDS:
                        os.kill(late, signal.SIGKILL)  # ours until wait4 reaps it: it is there
                time.sleep(0.01)
            elif pid in self.running:
                self._ended(pid, status, usage)

    def stop(self) -> None:
        for pid in self.running:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.running.clear()

    def _start(self) -> None:
        slot = self.free.pop()
        kind = self.kinds[self.made % len(self.kinds)]
        case = any_case(self.rng) if kind == "older" else CASE_GENERATORS[kind](self.rng)
        path = write_case(slot, case)
        through_cli = self.rng.random() < self.args.cli_share
        pid = (_run_cli if through_cli else _run_forked)(path, case, slot / "output.log")
        self.running[pid] = (slot, kind, case, time.monotonic(), through_cli)
        self.made += 1

    def _ended(self, pid: int, status: int, usage: object) -> None:
        slot, kind, case, began, through_cli = self.running.pop(pid)
        self.free.append(slot)
        elapsed = time.monotonic() - began
        rss = usage.ru_maxrss * 1024  # type: ignore[attr-defined]  # kilobytes on Linux
        self.timings.append((elapsed, rss, kind, through_cli, case.document[:80], sorted(case.files)))
        code = os.waitstatus_to_exitcode(status)
        output = (slot / "output.log").read_text("utf-8", "replace")
        self.ran[kind] += 1
        problem = ("hang" if elapsed >= BUDGET_SECONDS or code == -signal.SIGKILL else
                   "memory" if rss > BUDGET_BYTES else
                   "traceback" if "Traceback" in output or code not in (0, 3) else "")
        if problem:
            self.failures.append({
                "class": kind, "problem": problem, "seconds": round(elapsed, 1), "rss_mb": rss >> 20,
                "cli": through_cli, "exit": code, "output": output[-2000:], "document": case.document[:5000],
                "files": {name: content[:2000].decode("utf-8", "replace") for name, content in case.files.items()},
                "environ": case.environ})
            print(f"FAIL {problem} {kind} {elapsed:.1f}s {rss >> 20}MB exit {code}", file=sys.stderr)
        done = sum(self.ran.values())
        if done % 250 == 0:
            print(f"{done}/{self.args.count} in {time.monotonic() - self.started:.0f}s, "
                  f"{len(self.failures)} failing, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)

    def summary(self) -> dict[str, object]:
        counts = Counter(str(failure["problem"]) for failure in self.failures)
        return {
            "seed": self.args.seed, "documents": sum(self.ran.values()), "per_class": dict(sorted(self.ran.items())),
            "through_the_cli": sum(1 for t in self.timings if t[3]),
            "tracebacks": counts["traceback"], "hangs_over_20s": counts["hang"], "over_500mb": counts["memory"],
            "slowest_seconds": round(max((t[0] for t in self.timings), default=0.0), 2),
            "peak_rss_mb": max((t[1] for t in self.timings), default=0) >> 20,
            "wall_seconds": round(time.monotonic() - self.started), "load_average": os.getloadavg(),
            "slowest": [[round(t[0], 1), t[1] >> 20, *t[2:]] for t in sorted(self.timings, reverse=True)[:8]],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", default=str(time.time_ns()))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cli-share", type=float, default=0.1, help="share of documents run through the real CLI")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args(argv)

    import meshcompose.config.loader  # noqa: F401  imported once, before the children are forked
    import meshcompose.plan.planner  # noqa: F401

    def stop_early(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_early)  # SIGINT too: a background job starts with it ignored
    signal.signal(signal.SIGINT, stop_early)
    fuzz = Fuzz(args)
    try:
        fuzz.run()
    except KeyboardInterrupt:  # stopped early (Ctrl+C, SIGINT): the summary of what ran
        fuzz.stop()
    if fuzz.failures:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"failures-{args.seed}.json").write_text(json.dumps(fuzz.failures, indent=1))
    print(json.dumps(fuzz.summary(), indent=1))
    return 1 if fuzz.failures else 0


if __name__ == "__main__":
    sys.exit(main())
