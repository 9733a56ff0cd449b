"""Interpreter resolution cost: 100 agents over 3 distinct interpreters.

Cold (empty cache) must cost exactly 3 probes, run concurrently; warm (same
cache, nothing changed) must cost none. Prints the probe counts and times.

    python benchmarks/bench_probe.py [--agents 100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meshcompose import model
from meshcompose.pyenv import resolve
from meshcompose.pyenv.probe import probe_interpreter


class CountingProbe:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, argv, packages, modules=()):
        self.count += 1
        return probe_interpreter(argv, packages, modules)


def build_project(root: Path, agents: int) -> model.Project:
    venvs = [root / f"env{index}" for index in range(3)]
    for venv in venvs:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    requirements = model.PythonRequirements(packages=("pip", "mcp-mesh>=0.5"))
    members = {
        f"agent{index:03d}": model.Agent(f"agent{index:03d}", model.RunKind.SCRIPT, "agent.py", working_dir=root,
                                         interpreter=str(venvs[index % 3]), python=requirements)
        for index in range(agents)
    }
    return model.Project("bench", root, (), members)


def measure(project: model.Project, cache: Path) -> tuple[int, float]:
    probe = CountingProbe()
    start = time.perf_counter()
    resolved = resolve.resolve_project(project, cache_dir=cache, probe=probe, environ={})
    elapsed = time.perf_counter() - start
    assert len(resolved) == len(project.agents)
    return probe.count, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as temp:
        root = Path(temp)
        project = build_project(root, options.agents)
        single = CountingProbe()
        start = time.perf_counter()
        single([str(root / "env0" / "bin" / "python")], ["pip"])
        one_probe = time.perf_counter() - start
        cold_probes, cold = measure(project, root / "cache")
        warm_probes, warm = measure(project, root / "cache")
    print(f"agents: {options.agents} over 3 interpreters")
    print(f"one probe alone: {one_probe * 1000:8.1f} ms")
    print(f"cold:  {cold_probes} probes  {cold * 1000:8.1f} ms")
    print(f"warm:  {warm_probes} probes  {warm * 1000:8.1f} ms")
    ok = cold_probes == 3 and warm_probes == 0
    print("OK" if ok else "FAIL: expected 3 probes cold and 0 warm")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
