"""Replicas' budgets: `up -d` of one agent with 50 replicas against 50
distinct agents, and `scale` from 10 to 50 against a fresh `up -d` of 50.

    python benchmarks/bench_replicas.py [--count 50] [--rounds 3]

Every agent is the same idle script; each case runs in a fresh directory,
the cases interleaved and their order rotated per round; medians of the
wall time of each command, which returns once every agent is running (`up
-d` and `scale` wait, as the user's terminal does). Budgets: replicas no
dearer than distinct agents, and `scale` 10 -> N within 1.1x of a fresh
`up -d` of N (it starts fewer, but talks to a running supervisor).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

AGENT = "import signal, sys\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nsignal.pause()\n"
BASE = 10  # replicas running before `scale`


def cli(directory: Path, *args: str) -> float:
    """Seconds `mesh-compose ARGS` took; it must succeed."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=directory, capture_output=True,
                            text=True, timeout=600)
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"mesh-compose {' '.join(args)} failed in {directory}:\n{result.stdout}{result.stderr}")
    return took


def project(root: Path, name: str, agents: dict[str, dict[str, object]]) -> Path:
    directory = root / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / "agent.py").write_text(AGENT)
    document = {"name": name, "python": {"interpreter": sys.executable}, "agents": agents}
    (directory / "mesh-compose.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def distinct(root: Path, count: int) -> float:
    directory = project(root, "distinct", {f"a{n}": {"script": "agent.py"} for n in range(count)})
    try:
        return cli(directory, "up", "-d")
    finally:
        cli(directory, "down")


def replicated(root: Path, count: int) -> float:
    directory = project(root, "replicated", {"a": {"script": "agent.py", "replicas": count}})
    try:
        return cli(directory, "up", "-d")
    finally:
        cli(directory, "down")


def scaled(root: Path, count: int) -> float:
    directory = project(root, "scaled", {"a": {"script": "agent.py", "replicas": BASE}})
    try:
        cli(directory, "up", "-d")
        return cli(directory, "scale", f"a={count}")
    finally:
        cli(directory, "down")


CASES = {"50 distinct agents: up -d": distinct, "1 agent x 50 replicas: up -d": replicated,
         f"scale {BASE} -> 50": scaled}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as temp:
        root = Path(temp)
        names = list(CASES)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(CASES[name](root, args.count))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"| case | median (s) | samples | load {load:.2f} |\n| --- | --- | --- | --- |")
    for name, value in medians.items():
        print(f"| {name.replace('50', str(args.count))} | {value:.2f} | "
              f"{', '.join(f'{v:.2f}' for v in samples[name])} | |")
    names = list(CASES)
    replicas_ratio = medians[names[1]] / medians[names[0]]
    scale_ratio = medians[names[2]] / medians[names[1]]
    print(f"\nreplicas / distinct: {replicas_ratio:.2f} (budget 1.00; 5% is noise on a shared machine)"
          f"\nscale {BASE} -> {args.count} / fresh up -d of {args.count}: {scale_ratio:.2f} (budget 1.10)")
    return 0 if replicas_ratio <= 1.05 and scale_ratio <= 1.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
