"""A wired start on a real MCP Mesh: mesh-compose beside meshctl and a floor, in one run.

Three shapes of real SDK agents, each against a registry of its own (a free
loopback port, a fresh database):

- **chain**: 8 agents, each depending on the capability of the one before;
- **fan-out**: 8 agents, one provider and 7 dependents of its capability;
- **pair**: examples/mcp-mesh (`greeter` depends on `hello`'s `greeting`).

Four ways to start each, every round running each way once per shape (the
order of the ways rotates between rounds; the tables show medians):

1. **floor**: a minimal script (this one) starts the registry, waits for its
   `/health`, starts every agent at once and reads `GET /agents` every 50 ms
   until every agent is healthy with every dependency resolved;
2. **mesh-compose, wired**: every agent `healthcheck: {registry: wired}`, no
   `depends_on`; `up -d`, which returns once the whole mesh is wired;
3. **mesh-compose, registered order**: each dependent `depends_on` its provider
   with `condition: registered`, every agent `healthcheck: {registry: true}`;
   `up -d`, which returns once every agent registered;
4. **meshctl**: `meshctl start -d` with every agent file (it starts the registry
   and the agents at once and returns before they are healthy).

Each is timed from launching its command until the registry shows the mesh
wired, read by this script every 50 ms, and (for the two `up -d`) until the
command returned, whichever is later: what a user waits for before the mesh
works. meshctl's own return is shown beside its wired time. `--sdk-env
KEY=VALUE` adds the floor and the wired start again with that setting in every
agent's environment (e.g. `MCP_MESH_HEALTH_INTERVAL=1`).

After each start, every process of the run (found by a token in its
environment, by the project directory on its command line, and by the
registry's port) is killed by pid and create time. meshctl runs with a fresh
HOME (its state is `~/.mcp-mesh`).

The load average is read at the start and at the end, each time once the load
the run itself caused has drained (`report.settled_load`: the 8-agent starts
keep it above the core count while they run); above the core count the run
is not published (`--markdown` writes nothing and the exit code is 3),
by the rule of `benchmarks/run.py` (`report.unpublishable`).

    python benchmarks/bench_mesh_wired.py [--repeat 5] [--shapes chain,fanout,pair] [--sdk-env KEY=VALUE]
                                          [--meshctl PATH] [--markdown docs/mesh.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
from bench_mesh import EXAMPLE, STACK, alive, free_port, write_section  # noqa: E402

WIRED_TIMEOUT = 180.0  # a serialized chain of 8 under load takes a minute or more
READ_EVERY = 0.05
TOKEN_VARIABLE = "BENCH_MESH_WIRED_TOKEN"
SECTION = ("<!-- bench_mesh_wired.py: start -->", "<!-- bench_mesh_wired.py: end -->")
HEADER = """python:
  requires: ">=3.11"
  packages: [mcp-mesh]

registry:
  url: {url}
  command: auto

agents:
"""


@dataclass(frozen=True)
class Shape:
    """Agents by name, each with the capabilities it depends on (in the order of its providers)."""

    name: str
    title: str
    needs: dict[str, tuple[str, ...]]  # agent -> the agents whose capability it depends on

    def write(self, directory: Path) -> None:
        """The agent scripts: each offers a capability named after it and depends on its providers'."""
        for agent, providers in self.needs.items():
            if self.name == "pair":
                shutil.copy(EXAMPLE / f"{agent}.py", directory / f"{agent}.py")
                continue
            (directory / f"{agent}.py").write_text(agent_script(agent, providers))


def agent_script(agent: str, providers: Sequence[str]) -> str:
    capability = agent.replace("-", "_")
    params = "".join(f", {p.replace('-', '_')}: mesh.McpMeshTool = None" for p in providers)
    calls = " + ".join(f"(await {p.replace('-', '_')}() if {p.replace('-', '_')} else '')" for p in providers)
    return f'''import mesh
from fastmcp import FastMCP

app = FastMCP("{agent}")


@app.tool()
@mesh.tool(capability="{capability}", dependencies={[p.replace('-', '_') for p in providers]!r})
async def {capability}(x: str = ""{params}) -> str:
    return "{agent}" + {calls or "''"}


@mesh.agent(name="{agent}", auto_run=True)
class Agent:
    pass
'''


SHAPES = {
    "chain": Shape("chain", "chain of 8", {f"link{i}": ((f"link{i - 1}",) if i else ()) for i in range(8)}),
    "fanout": Shape("fanout", "fan-out of 8", {"hub": (), **{f"leaf{i}": ("hub",) for i in range(1, 8)}}),
    "pair": Shape("pair", "pair", {"hello": (), "greeter": ("hello",)}),
}


@dataclass
class Start:
    """One start of one shape by one way: seconds from launch until wired, until the command returned."""

    wired: float | None = None
    returned: float | None = None
    error: str = ""

    def waited(self, waits_for_command: bool) -> float | None:
        if self.wired is None:
            return None
        if waits_for_command:
            return None if self.returned is None else max(self.wired, self.returned)
        return self.wired


@dataclass
class Way:
    """One way to start a mesh."""

    key: str
    label: str
    waits_for_command: bool  # the user waits for its command to return
    sdk_env: dict[str, str] = field(default_factory=dict)

    def start(self, run: Run) -> subprocess.Popen[bytes] | None:
        raise NotImplementedError


class Run:
    """One start of a shape in a fresh directory, with its own registry port and token."""

    def __init__(self, scratch: Path, shape: Shape, way: Way, meshctl: Path) -> None:
        self.shape, self.way, self.meshctl = shape, way, meshctl
        self.project = scratch / "project"
        self.project.mkdir()
        self.home = scratch / "home"
        self.home.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = uuid.uuid4().hex
        shape.write(self.project)
        (self.project / ".venv").symlink_to(STACK / "venv")  # meshctl runs agents with the project's .venv
        self.children: list[subprocess.Popen[bytes]] = []

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PATH": f"{STACK / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "VIRTUAL_ENV": str(STACK / "venv"), "HOST": "127.0.0.1", "MCP_MESH_HTTP_HOST": "127.0.0.1",
               TOKEN_VARIABLE: self.token, **self.way.sdk_env}
        for name in ("MCP_MESH_REGISTRY_URL", "MCP_MESH_REGISTRY_HOST", "MCP_MESH_REGISTRY_PORT"):
            env.pop(name, None)
        return env

    def spawn(self, argv: Sequence[str], log: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.project / log, "ab") as out:
            child = subprocess.Popen(list(argv), cwd=self.project, env=dict(env or self.env()),
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.children.append(child)
        return child

    def processes(self) -> list[psutil.Process]:
        """Every process this run started, however it was started: the token in
        its environment, the project directory on its command line, or the registry port."""
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if (str(self.project) in " ".join(proc.info["cmdline"] or ())
                        or proc.environ().get(TOKEN_VARIABLE) == self.token):
                    found[proc.pid] = proc
            except psutil.Error:
                continue
        try:
            for connection in psutil.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN and connection.laddr.port == self.port and connection.pid:
                    found[connection.pid] = psutil.Process(connection.pid)
        except psutil.Error:
            pass
        found.pop(os.getpid(), None)
        return list(found.values())

    def end(self) -> None:
        """Kill everything the run started, supervisors before agents (so none is restarted)."""
        for child in self.children:
            if child.poll() is None:
                _kill(child.pid)
        for _ in range(3):  # a supervisor being killed may have been starting an agent
            procs = self.processes()
            if not procs:
                break
            known = {proc.pid: _created(proc) for proc in procs}
            for proc in procs:
                _kill(proc.pid)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(alive(pid, made) for pid, made in known.items() if made):
                time.sleep(0.05)
        for child in self.children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                pass


def _created(proc: psutil.Process) -> float | None:
    try:
        return proc.create_time()
    except psutil.Error:
        return None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def wired(url: str, shape: Shape) -> bool:
    """The registry lists every agent of the shape healthy, with as many
    dependencies as it declares, each resolved to a provider."""
    try:
        with urllib.request.urlopen(url + "/agents", timeout=1) as response:
            listed = json.load(response).get("agents") or []
    except (OSError, ValueError):
        return False
    seen: dict[str, dict] = {}
    for agent in listed:
        if agent.get("status") == "healthy":
            seen[agent.get("name")] = agent
    for name, providers in shape.needs.items():
        agent = seen.get(name)
        if agent is None:
            return False
        resolutions = agent.get("dependency_resolutions") or []
        if len(resolutions) < len(providers) or not all(
                r.get("status") == "available" and r.get("provider_agent_id") for r in resolutions):
            return False
    return True


def registry_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as response:
            return json.load(response).get("status") == "healthy"
    except (OSError, ValueError):
        return False


class Floor(Way):
    """The registry, then every agent at once, each with the SDK's own Python."""

    def start(self, run: Run) -> subprocess.Popen[bytes] | None:
        env = run.env()
        registry_env = {**env, "DATABASE_URL": str(run.project / "registry.db")}
        run.spawn([str(STACK / "bin" / "mcp-mesh-registry"), "--host", "127.0.0.1", "--port", str(run.port)],
                  "registry.log", registry_env)
        deadline = time.monotonic() + 30
        while not registry_healthy(run.url):
            if time.monotonic() > deadline:
                raise RuntimeError("the registry did not answer within 30 s")
            time.sleep(0.02)
        python = str(STACK / "venv" / "bin" / "python")
        for agent in run.shape.needs:
            run.spawn([python, "-u", f"{agent}.py"], f"{agent}.log", {**env, "MCP_MESH_REGISTRY_URL": run.url})
        return None


class MeshCompose(Way):
    def __init__(self, key: str, label: str, strict: bool, sdk_env: dict[str, str] | None = None) -> None:
        super().__init__(key, label, waits_for_command=True, sdk_env=dict(sdk_env or {}))
        self.strict = strict

    def project_file(self, run: Run) -> str:
        text = f"name: wired-{run.shape.name}\n" + HEADER.format(url=run.url)
        for agent, providers in run.shape.needs.items():
            text += f"  {agent}:\n    script: {agent}.py\n"
            if self.strict and providers:
                text += "    depends_on:\n" + "".join(
                    f"      {p}:\n        condition: registered\n" for p in providers)
            text += f"    healthcheck:\n      registry: {'true' if self.strict else 'wired'}\n"
        return text

    def start(self, run: Run) -> subprocess.Popen[bytes] | None:
        (run.project / "mesh-compose.yaml").write_text(self.project_file(run))
        return run.spawn([sys.executable, "-m", "meshcompose", "up", "-d"], "up.log")


class Meshctl(Way):
    def start(self, run: Run) -> subprocess.Popen[bytes] | None:
        return run.spawn([str(run.meshctl), "start", "-d", "--registry-host", "127.0.0.1",
                          "--registry-port", str(run.port), *(f"{agent}.py" for agent in run.shape.needs)],
                         "meshctl.log", {**run.env(), "HOME": str(run.home)})


def ways(sdk_env: dict[str, str]) -> list[Way]:
    found: list[Way] = [
        Floor("floor", "(1) floor: all at once, until wired", waits_for_command=False),
        MeshCompose("wired", "(2) mesh-compose, `registry: wired`, no order: `up -d` back", strict=False),
        MeshCompose("strict", "(3) mesh-compose, `condition: registered` order: `up -d` back", strict=True),
        Meshctl("meshctl", "(4) meshctl start -d: until wired", waits_for_command=False),
    ]
    if sdk_env:
        setting = " ".join(f"{key}={value}" for key, value in sdk_env.items())
        found += [Floor("floor+", f"(1+) floor with {setting}", waits_for_command=False, sdk_env=sdk_env),
                  MeshCompose("wired+", f"(2+) mesh-compose wired with {setting}", strict=False, sdk_env=sdk_env)]
    return found


def start_once(shape: Shape, way: Way, meshctl: Path, keep: Path | None) -> Start:
    result = Start()
    with tempfile.TemporaryDirectory(prefix="bench-wired-") as scratch:
        run = Run(Path(scratch), shape, way, meshctl)
        try:
            began = time.monotonic()
            command = way.start(run)
            deadline = began + WIRED_TIMEOUT
            while time.monotonic() < deadline and (result.wired is None or (command and result.returned is None)):
                now = time.monotonic()
                if command is not None and result.returned is None and command.poll() is not None:
                    result.returned = now - began
                    if command.returncode != 0:
                        result.error = f"exited {command.returncode}"
                if result.wired is None and wired(run.url, shape):
                    result.wired = time.monotonic() - began
                time.sleep(READ_EVERY)
            if result.wired is None:
                result.error = result.error or f"not wired within {WIRED_TIMEOUT:.0f} s"
        except Exception as error:  # a way that fails is reported, the run goes on
            result.error = str(error)
        finally:
            run.end()
            if result.error and keep is not None:
                target = keep / f"{shape.name}-{way.key}-{run.token[:8]}"
                shutil.copytree(run.project, target, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
                result.error += f" (kept in {target})"
    return result


Results = dict[str, dict[str, list[Start]]]  # shape -> way -> starts


def measure(shapes: Sequence[Shape], chosen: Sequence[Way], repeat: int, meshctl: Path, keep: Path | None,
            loads: list[float]) -> Results:
    results: Results = {shape.name: {way.key: [] for way in chosen} for shape in shapes}
    for number in range(repeat):
        loads.append(os.getloadavg()[0])
        shift = number % len(chosen)
        order = list(chosen[shift:]) + list(chosen[:shift])
        for shape in shapes:
            for way in order:
                taken = start_once(shape, way, meshctl, keep)
                results[shape.name][way.key].append(taken)
                print(f"round {number + 1}: {shape.name} {way.key}: wired {_s(taken.wired)}, returned "
                      f"{_s(taken.returned)}{'  ' + taken.error if taken.error else ''} "
                      f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
                time.sleep(1.0)  # let the killed processes' exits settle
    return results


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def median(values: Sequence[float | None]) -> float | None:
    measured = [value for value in values if value is not None]
    return statistics.median(measured) if measured else None


def cell(starts: Sequence[Start], way: Way, base: float | None) -> tuple[str, str]:
    """The median a user waits for (with the other time in brackets) and its ratio to the floor."""
    waited = median([start.waited(way.waits_for_command) for start in starts])
    failed = sum(1 for start in starts if start.waited(way.waits_for_command) is None)
    text = _s(waited)
    if way.waits_for_command:
        text += f" (wired {_s(median([s.wired for s in starts]))})"
    elif isinstance(way, Meshctl):
        text += f" (back at {_s(median([s.returned for s in starts]))})"
    if failed:
        text += f", {failed} failed"
    return text, report.ratio(waited, base)


def table(results: Results, shapes: Sequence[Shape], chosen: Sequence[Way], repeat: int) -> str:
    header = [f"medians of {repeat}"]
    for shape in shapes:
        header += [shape.title, "ratio"]
    rows = []
    for way in chosen:
        row = [way.label]
        for shape in shapes:
            floor_key = "floor+" if way.key.endswith("+") else "floor"
            base = median([s.wired for s in results[shape.name][floor_key]])
            row += cell(results[shape.name][way.key], way, base)
        rows.append(row)
    return report.table(header, rows)


def load_line(before: Sequence[float], after: Sequence[float], seen: Sequence[float], cpus: int) -> str:
    return (f"load average {before[0]:.2f} at the start, {after[0]:.2f} at the end"
            f" ({max([before[0], after[0], *seen]):.2f} at most between rounds), {cpus} cores")


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--sdk-env: expected KEY=VALUE, got {pair!r}")
        settings[key] = value
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the table shows medians (default 5)")
    parser.add_argument("--shapes", default="chain,fanout,pair", help="which of chain,fanout,pair")
    parser.add_argument("--ways", help="a subset of floor,wired,strict,meshctl (the floor always runs)")
    parser.add_argument("--sdk-env", action="append", default=[], metavar="KEY=VALUE",
                        help="also run the floor and the wired start with this in every agent's environment")
    parser.add_argument("--meshctl", type=Path, default=Path(os.environ.get("MESHCTL") or STACK / "bin" / "meshctl"))
    parser.add_argument("--keep", type=Path, help="keep the directory (logs) of every failed start here")
    parser.add_argument("--markdown", type=Path, help="also write the table into this page's bench_mesh_wired section")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)
    try:
        shapes = [SHAPES[name] for name in args.shapes.split(",") if name]
    except KeyError as error:
        parser.error(f"--shapes: unknown shape {error}; choose from {', '.join(SHAPES)}")
    chosen = ways(parse_env(args.sdk_env))
    if args.ways:
        keep = {"floor", "floor+", *args.ways.split(",")}
        chosen = [way for way in chosen if way.key in keep or way.key.rstrip("+") in keep]
    needed = [STACK / "bin" / "mcp-mesh-registry", STACK / "venv" / "bin" / "python"]
    if any(isinstance(way, Meshctl) for way in chosen):
        needed.append(args.meshctl)
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        print(f"missing: {', '.join(missing)} (bash scripts/install-mesh.sh; meshctl comes in the npm package "
              "@mcpmesh/cli-linux-x64 beside the registry)", file=sys.stderr)
        return 2
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), (report.settled_load(), *os.getloadavg()[1:])
    seen: list[float] = []
    results = measure(shapes, chosen, args.repeat, args.meshctl, args.keep, seen)
    load_after = (report.settled_load(), *os.getloadavg()[1:])
    cpus = os.cpu_count() or 1
    facts = {"machine": {"cpus": str(cpus)},
             "timing": {"load_before": load_before, "load_after": load_after, "started": started,
                        "seconds": time.time() - started}}
    reason = report.unpublishable(facts)
    rendered = (table(results, shapes, chosen, args.repeat) + "\n\n"
                + load_line(load_before, load_after, seen, cpus) + f"; the run took {(time.time() - started) / 60:.1f} min.")
    print(rendered)
    if args.json:
        args.json.write_text(json.dumps({**facts, "results": {shape: {way: [vars(s) for s in starts]
                                                                       for way, starts in by_way.items()}
                                                              for shape, by_way in results.items()}}, indent=2))
    if reason:
        print(f"NOT PUBLISHABLE: {reason}", file=sys.stderr)
        return 3 if args.markdown else 0
    if args.markdown:
        write_section(args.markdown, rendered, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
