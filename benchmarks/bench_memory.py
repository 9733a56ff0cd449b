"""Where the idle mesh-compose supervisor's memory goes, with N trivial agents (default 50).

1. **Supervisors**: RSS, USS, PSS, anonymous vs file-backed memory, threads
   and descriptors of the process that supervises the agents, idle, for a
   foreground `up` with a cold cache (fresh directory), the same warm, and
   the detached supervisor of `up -d`; plus the mappings holding the most.
2. **Imports**: what the supervisor imports (`-X importtime` of a cold and
   a warm `up`): the top packages by the sum of their modules' self time, and
   the top single modules.
3. **Packages**: RSS after importing each heavy package alone in a fresh
   interpreter, beside `python -c pass`, and after importing everything the
   warm and the cold supervisor imported: the rest of the idle RSS is what
   running costs.
4. **tracemalloc**: the supervisor in-process (`memory_trace.py`) at N/5
   and N agents (warm caches): traced memory, split into imports and runtime,
   per agent, and the allocation sites that grow with the agent count.

    python benchmarks/bench_memory.py [--agents 50] [--settle 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import imports  # noqa: E402
import measure  # noqa: E402
import peers  # noqa: E402
import workloads  # noqa: E402
from memory_tables import sections  # noqa: E402
from runners import MeshCompose, MeshComposeDetached, Tool, ToolFailed, base_env  # noqa: E402
from workloads import Workload  # noqa: E402

HERE = Path(__file__).resolve().parent
HEAVY = ("yaml", "psutil", "anyio", "rich", "jsonschema", "networkx")
MB = 2**20


class Runs:
    """Launches mesh-compose against workloads under one token; cleans up after each run."""

    def __init__(self, token: str, settle: float) -> None:
        self.token, self.settle = token, settle
        self.env = base_env(token)
        self.root = peers.WORK / "memory"

    def workload(self, name: str, agents: int) -> Workload:
        return workloads.make_workload(self.root, name, "idle", agents)

    def idle(self, tool: Tool, workload: Workload, label: str) -> dict[str, Any]:
        """Start, wait until idle, measure the agents' parent, stop."""
        session = self._up(tool, workload, label)
        try:
            time.sleep(self.settle)
            agents = measure.agent_processes(workload)
            parents = {agent.parent().pid for agent in agents if agent.parent() is not None}
            if len(parents) != 1:
                raise ToolFailed(f"the agents have {len(parents)} parents, expected one supervisor")
            found = supervisor_memory(parents.pop())
            found["label"] = label
            return found
        finally:
            self._stop(tool, session, workload)

    def imports_of(self, workload: Workload, label: str) -> list[imports.Imported]:
        """What a foreground `up` imports (the profiler's lines in its merged output)."""
        tool = MeshCompose({**self.env, "PYTHONPROFILEIMPORTTIME": "1"})
        session = self._up(tool, workload, label)
        self._stop(tool, session, workload)
        return imports.parse(session.outputs[0].read_text(errors="replace"))

    def trace(self, workload: Workload, preimport: list[str]) -> dict[str, Any]:
        """memory_trace.py: the supervisor in-process under tracemalloc, traced after `preimport`."""
        out = workload.directory / "trace.json"
        out.unlink(missing_ok=True)
        modules = workload.directory / "preimport.json"
        modules.write_text(json.dumps(preimport))
        project = workloads.write_mesh_compose(workload)
        workload.reset()
        argv = [sys.executable, str(HERE / "memory_trace.py"), str(project), str(workload.markers),
                str(len(workload.names)), str(out), "--settle", str(self.settle), "--preimport", str(modules)]
        env = MeshCompose(self.env).env_for(workload)
        with open(workload.directory / "trace-output.log", "wb") as sink:
            proc = subprocess.Popen(argv, cwd=workload.directory, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        try:
            proc.wait(180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            measure.kill_tokened(self.token)
        if not out.exists():
            raise ToolFailed(f"memory_trace.py wrote nothing (exit {proc.returncode})")
        found = json.loads(out.read_text())
        if "error" in found:
            raise ToolFailed(found["error"])
        return found

    def _up(self, tool: Tool, workload: Workload, label: str) -> measure.Session:
        workload.reset()
        output = workload.directory / f"output-{label.replace(' ', '_').replace('`', '')}.log"
        output.unlink(missing_ok=True)
        started = time.perf_counter()
        session = tool.launch(workload, output)
        try:
            measure.wait_until_up(session, workload, started, timeout=60.0)
            if tool.returns_after_up:
                measure.wait_for_return(session, started, timeout=60.0)
        except BaseException:
            self._stop(tool, session, workload)
            raise
        return session

    def _stop(self, tool: Tool, session: measure.Session, workload: Workload) -> None:
        agents = measure.agent_processes(workload)
        try:
            if session.proc.poll() is None or tool.returns_after_up:
                tool.request_stop(session, workload)
            measure.wait_until_stopped(session, agents, time.perf_counter(), timeout=30.0)
        finally:
            measure.reap(session, self.token)


def supervisor_memory(pid: int) -> dict[str, Any]:
    """psutil's numbers plus /proc's split into anonymous and file-backed pages, and the top mappings."""
    proc = psutil.Process(pid)
    info = proc.memory_full_info()
    found: dict[str, Any] = {
        "pid": pid, "command": " ".join(proc.cmdline()[:4]), "rss_mb": info.rss / MB,
        "uss_mb": getattr(info, "uss", 0) / MB, "pss_mb": getattr(info, "pss", 0) / MB,
        "threads": proc.num_threads(), "fds": proc.num_fds() if hasattr(proc, "num_fds") else None,
    }
    status = _proc_status(pid)
    for key in ("RssAnon", "RssFile", "RssShmem", "VmHWM"):
        if key in status:
            found[key] = status[key] / 1024.0
    found["mappings"] = top_mappings(pid)
    return found


def top_mappings(pid: int, count: int = 8) -> list[dict[str, Any]]:
    """RSS by mapped file (anonymous memory and the heap under their own names), largest first."""
    groups: dict[str, list[int]] = {}
    name = "?"
    try:
        with open(f"/proc/{pid}/smaps") as handle:
            for line in handle:
                fields = line.split()
                if not fields[0].endswith(":") and "-" in fields[0]:
                    name = _mapping_name(fields[5] if len(fields) > 5 else "")
                elif fields[0] in ("Rss:", "Private_Clean:", "Private_Dirty:"):
                    slot = groups.setdefault(name, [0, 0])
                    slot[0 if fields[0] == "Rss:" else 1] += int(fields[1])
    except OSError:
        return []
    ranked = sorted(groups.items(), key=lambda item: -item[1][0])[:count]
    return [{"mapping": key, "rss_mb": rss / 1024.0, "private_mb": private / 1024.0} for key, (rss, private) in ranked]


def _mapping_name(path: str) -> str:
    if not path:
        return "[anonymous]"
    if path.startswith("["):
        return path
    for marker in ("-packages/", "/lib/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    return os.path.basename(path)


def _proc_status(pid: int) -> dict[str, int]:
    found = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    found[key] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return found


# One fresh interpreter per measurement: RSS before and after importing the given modules.
_RSS_PROBE = r'''
import sys, time
def rss():
    with open("/proc/self/status") as f:
        return {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmRSS", "RssAnon", "RssFile"))}
before = rss()
started = time.perf_counter()
failed = 0
for name in sys.argv[1:]:
    try:
        __import__(name)
    except BaseException:
        failed += 1
spent = time.perf_counter() - started
after = rss()
print(repr((before, after, spent, failed, len(sys.modules))))
'''


def rss_after_import(modules: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", _RSS_PROBE, *modules], env=dict(env), capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise ToolFailed(f"the import probe failed: {result.stderr.strip()[-200:]}")
    import ast

    before, after, spent, failed, loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return {"rss_mb": after["VmRSS"] / 1024.0, "anon_mb": after.get("RssAnon", 0) / 1024.0,
            "file_mb": after.get("RssFile", 0) / 1024.0, "import_ms": spent * 1000.0,
            "failed": failed, "modules": loaded}


def package_costs(warm: list[imports.Imported], cold: list[imports.Imported],
                  env: Mapping[str, str]) -> list[dict[str, Any]]:
    """RSS after `python -c pass`, after each heavy package alone, after all a supervisor imported."""
    warm_names, cold_names = _importable(warm), _importable(cold)
    rows: list[tuple[str, list[str]]] = [("`python -c pass`", [])] + [(f"`import {name}`", [name]) for name in (*HEAVY, "meshcompose.cli.main")]
    rows += [("everything a warm `up` imports", warm_names), ("everything a cold `up` imports", cold_names)]
    found = []
    for label, modules in rows:
        entry = rss_after_import(modules, env)
        entry.update(label=label, imported_by_warm_up=_top_in(modules, warm), imported_by_cold_up=_top_in(modules, cold))
        found.append(entry)
    return found


def _importable(imported: list[imports.Imported]) -> list[str]:
    names = dict.fromkeys(entry.module for entry in imported)
    return [name for name in names if not name.endswith("__main__") and name not in ("this", "antigravity")]


def _top_in(modules: list[str], imported: list[imports.Imported]) -> bool | None:
    if len(modules) != 1:
        return None
    names = {entry.module for entry in imported}
    return any(name == modules[0] or name.startswith(modules[0] + ".") for name in names)


def per_agent(small: Mapping[str, Any], large: Mapping[str, Any], count: int = 12) -> dict[str, Any]:
    """Runtime bytes per extra agent between the two traces, and the sites that grew the most."""
    extra = large["agents"] - small["agents"]
    before = {(site["site"], site["via"]): site["bytes"] for site in small["sites"]}
    growth = [(site["bytes"] - before.get((site["site"], site["via"]), 0), site) for site in large["sites"]]
    grew = sorted(growth, key=lambda pair: -pair[0])[:count]
    return {
        "extra_agents": extra,
        "runtime_bytes_per_agent": (large["runtime_bytes"] - small["runtime_bytes"]) / extra,
        "total_bytes_per_agent": (large["total_bytes"] - small["total_bytes"]) / extra,
        "sites": [{"site": site["site"], "via": site["via"], "bytes_per_agent": delta / extra}
                  for delta, site in grew if delta > 0],
    }


def measure_all(agents: int, settle: float, token: str) -> dict[str, Any]:
    runs = Runs(token, settle)
    found: dict[str, Any] = {"agents": agents, "settle_s": settle, "notes": []}
    fg, bg = MeshCompose(runs.env), MeshComposeDetached(runs.env)
    main = runs.workload("supervisor", agents)
    progress("supervisors")
    found["supervisors"] = [runs.idle(fg, main, "foreground `up`, cold"), runs.idle(fg, main, "foreground `up`, warm"),
                            runs.idle(bg, main, "detached supervisor (`up -d`), warm")]
    progress("imports")
    profiled = runs.workload("imports", agents)
    cold, warm = runs.imports_of(profiled, "cold"), runs.imports_of(profiled, "warm")
    found["imports"] = {case: {"summary": imports.summary(entries), "packages": imports.by_package(entries)[:12],
                               "modules": imports.top_modules(entries)} for case, entries in (("cold", cold),
                                                                                               ("warm", warm))}
    progress("package costs")
    found["packages"] = package_costs(warm, cold, runs.env)
    progress("tracemalloc")
    found.update(_traces(runs, profiled, agents, _importable(warm)))
    return found


def _traces(runs: Runs, large: Workload, agents: int, preimport: list[str]) -> dict[str, Any]:
    small_count = max(2, agents // 5)
    small = runs.workload("trace-small", small_count)
    runs.idle(MeshCompose(runs.env), small, "warming the small project")  # warm its caches like `large`'s
    progress(f"tracemalloc, {small_count} agents")
    first = runs.trace(small, preimport)
    progress(f"tracemalloc, {agents} agents")
    traced: tuple[dict[str, Any], dict[str, Any]] = (first, runs.trace(large, preimport))
    return {"trace": {"small": _trim(traced[0]), "large": _trim(traced[1])}, "per_agent": per_agent(*traced)}


def _trim(trace: dict[str, Any]) -> dict[str, Any]:
    return {**trace, "sites": trace["sites"][:15]}


_STARTED = time.perf_counter()


def progress(step: str) -> None:
    print(f"    memory: {step} ({time.perf_counter() - _STARTED:.0f}s in) ...", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to let the supervisor go idle")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    # Under run.py the token is the run's; alone, a token of our own.
    token = os.environ.get("BENCH_TOKEN") or uuid.uuid4().hex
    try:
        found = measure_all(args.agents, args.settle, token)
    except ToolFailed as failure:
        print(f"bench_memory: {failure}", file=sys.stderr)
        return 1
    finally:
        measure.kill_tokened(token)
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    print("\n\n".join(f"## {title}\n\n{body}" for title, body in sections(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
