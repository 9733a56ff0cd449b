"""How long a big project file takes to validate and plan.

Writes a project of N agents (default 1,000) with a `depends_on` tree (see
`workloads.dependency_tree`) and times:

- `mesh-compose -f FILE config -q` as a user runs it, with a cold cache
  (a fresh cache directory each time, so the schema is really checked and
  the graph really planned) and with a warm one;
- the same work in-process, after the imports: loading and validating the
  file, checking the graph (unknown dependencies, cycles) and computing the
  start order, each with a cold cache.

Medians of --repeat runs.

    python benchmarks/bench_plan.py [--agents 1000] [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from report import seconds, table  # noqa: E402
from runners import mesh_compose_cli  # noqa: E402


def write_project(root: Path, agents: int) -> Path:
    workload = workloads.make_workload(root, "plan", "idle", agents)
    return workloads.write_mesh_compose(workload, ordered=True)


def time_cli(project: Path, cache: Path, repeat: int, fresh: bool) -> float:
    """Median wall time of `config -q`; `fresh` empties the cache before every run."""
    samples = []
    for _ in range(repeat):
        if fresh:
            shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "XDG_CACHE_HOME": str(cache), "MESH_COMPOSE_CACHE_DIR": str(cache / "mesh-compose")}
        started = time.perf_counter()
        result = subprocess.run([*mesh_compose_cli(), "-f", str(project), "config", "-q"], env=env,
                                capture_output=True, text=True, timeout=120)
        samples.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"config -q exited {result.returncode}: {result.stderr.strip()[-300:]}")
    return statistics.median(samples)


def time_in_process(project: Path, cache: Path, repeat: int) -> dict[str, float]:
    """Median seconds of load+validate, check and start order, each with a cold cache, after the imports."""
    import jsonschema  # noqa: F401  (imported now, so no step below pays for it)
    import networkx  # noqa: F401

    from meshcompose.config.loader import load_project
    from meshcompose.plan import planner

    steps: dict[str, list[float]] = {"load_s": [], "check_s": [], "start_order_s": []}
    waves = 0
    for _ in range(repeat):
        shutil.rmtree(cache, ignore_errors=True)
        os.environ["MESH_COMPOSE_CACHE_DIR"] = str(cache / "mesh-compose")
        loaded = _timed(steps["load_s"], lambda: load_project([project], cwd=project.parent))
        _timed(steps["check_s"], lambda: planner.check(loaded))
        waves = len(_timed(steps["start_order_s"], lambda: planner.start_order(loaded)))
    found = {name: statistics.median(values) for name, values in steps.items()}
    found["total_s"] = sum(found.values())
    found["waves"] = float(waves)
    return found


def time_parts(project: Path, repeat: int) -> dict[str, float]:
    """For context, where loading could go: the YAML parse alone (pure Python and libyaml) and
    jsonschema against the published schema alone."""
    import jsonschema
    import yaml

    import meshcompose

    text = project.read_text()
    document = yaml.safe_load(text)
    schema = json.loads((Path(meshcompose.__file__).parent / "schemas" / "mesh-compose.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    steps: dict[str, Callable[[], Any]] = {
        "yaml_pure_s": lambda: yaml.load(text, Loader=yaml.SafeLoader),
        "schema_s": lambda: list(validator.iter_errors(document)),
    }
    if hasattr(yaml, "CSafeLoader"):
        steps["yaml_libyaml_s"] = lambda: yaml.load(text, Loader=yaml.CSafeLoader)
    found = {}
    for name, step in steps.items():
        samples: list[float] = []
        for _ in range(repeat):
            _timed(samples, step)
        found[name] = statistics.median(samples)
    return found


def _timed(into: list[float], step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    into.append(time.perf_counter() - started)
    return value


def compile_package() -> None:
    """Write mesh-compose's bytecode first, as pip does when it installs a wheel. A checkout
    installed with `pip install -e` under PYTHONDONTWRITEBYTECODE=1 (CI sets it, and so may the
    caller) never caches it, so every `config -q` below would compile ~40 modules from source:
    the compiler's time, not mesh-compose's. compileall writes whatever that variable says."""
    import compileall

    import meshcompose

    compileall.compile_dir(str(Path(meshcompose.__file__).parent), quiet=1)


def measure(agents: int, repeat: int) -> dict[str, Any]:
    compile_package()
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as temp:
        root = Path(temp)
        project = write_project(root, agents)
        cache = root / "cache"
        found: dict[str, Any] = {"agents": agents, "repeat": repeat, "notes": []}
        found["config_cold_s"] = time_cli(project, cache, repeat, fresh=True)
        found["config_warm_s"] = time_cli(project, cache, repeat, fresh=False)
        try:
            inside = time_in_process(project, cache, repeat)
        except (ImportError, AttributeError, TypeError) as error:
            # The internals moved: the CLI timings above still stand.
            found["notes"].append(f"in-process timing not available: {type(error).__name__}: {error}")
        else:
            found["in_process"] = inside
            found["in_process_total_s"] = inside["total_s"]
        try:
            found["parts"] = time_parts(project, repeat)
        except (ImportError, OSError, ValueError) as error:
            found["notes"].append(f"YAML/schema timing not available: {type(error).__name__}: {error}")
    return found


def table_rows(found: Mapping[str, Any]) -> list[list[str]]:
    rows = [["`mesh-compose -f FILE config -q`, cold cache (subprocess)", seconds(found.get("config_cold_s"))],
            ["`mesh-compose -f FILE config -q`, warm cache (subprocess)", seconds(found.get("config_warm_s"))]]
    inside = found.get("in_process")
    if inside:
        rows += [["in-process: load and validate the file (cold cache)", seconds(inside["load_s"])],
                 ["in-process: check the graph (unknown dependencies, cycles)", seconds(inside["check_s"])],
                 [f"in-process: start order ({inside['waves']:.0f} waves)", seconds(inside["start_order_s"])],
                 ["in-process: all three", seconds(inside["total_s"])]]
    parts = found.get("parts") or {}
    for key, label in (("yaml_pure_s", "for comparison: `yaml.load` of the file alone, pure-Python SafeLoader"),
                       ("yaml_libyaml_s", "for comparison: `yaml.load` of the file alone, libyaml CSafeLoader"),
                       ("schema_s", "for comparison: jsonschema against the published schema alone")):
        if key in parts:
            rows.append([label, seconds(parts[key])])
    return rows


def table_text(found: Mapping[str, Any]) -> str:
    text = table(["step", "median s"], table_rows(found))
    notes = found.get("notes") or []
    return text + ("\n\n" + "\n".join(f"- {note}" for note in notes) if notes else "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    found = measure(args.agents, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    print(table_text(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
