"""mesh-compose against meshctl on a real MCP Mesh (the mesh table).

Both tools run the same SDK agents (examples/mcp-mesh: `hello` provides
`greeting`, `greeter` depends on it; the 8-agent project adds six copies of
hello under other names) against a registry each starts itself, on loopback
and a free port. Every round runs each tool once per project, alternating
which tool goes first; the table shows medians.

- **until all registered**: from launching the start command (`mesh-compose
  up -d`, `meshctl start -d`) until the registry's `GET /agents` lists every
  agent of the project as healthy (read every 50 ms).
- **stop**: from launching the stop command (`mesh-compose down`, `meshctl
  stop`) until it returned and every agent and registry process is gone.

meshctl keeps its state in ~/.mcp-mesh: it runs with HOME set to a fresh
directory per run, so it never touches another meshctl's processes. Every
process a run started (the commands, the agents, the registry) is killed by
pid afterwards if it is still alive.

    python benchmarks/bench_mesh.py [--rounds 3] [--meshctl PATH] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "mcp-mesh"
STACK = Path(os.environ.get("MESH_STACK_DIR") or REPO / ".mesh-stack")
DEFAULT_MESHCTL = STACK / "bin" / "meshctl"  # scripts/install-mesh.sh puts it there
REGISTERED_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
READ_EVERY = 0.05
SECTION_START = "<!-- bench_mesh.py: start -->"
SECTION_END = "<!-- bench_mesh.py: end -->"
EXTRA_PROVIDERS = 6  # the 8-agent project: hello, greeter and these copies of hello


@dataclass
class Run:
    """One tool's start and stop of one project; every pid it met."""

    registered: float | None = None
    stopped: float | None = None
    pids: dict[int, float] = field(default_factory=dict)  # pid -> create time, for the cleanup

    def note(self, proc: psutil.Process) -> None:
        try:
            self.pids[proc.pid] = proc.create_time()
        except psutil.Error:
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_project(root: Path, agents: int) -> tuple[Path, list[str]]:
    """A copy of the example with `agents` agents; their names."""
    project = root / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".mesh-compose", "README.md"))
    names = ["hello", "greeter"]
    config = (project / "mesh-compose.yaml").read_text()
    hello = (project / "hello.py").read_text()
    for index in range(1, agents - 1):
        name = f"provider{index}"
        (project / f"{name}.py").write_text(hello.replace('"hello"', f'"{name}"').replace(
            'capability="greeting"', f'capability="greeting{index}"'))
        config += f"\n  {name}:\n    script: {name}.py\n    healthcheck:\n      registry: true\n"
        names.append(name)
    (project / "mesh-compose.yaml").write_text(config)
    (project / ".venv").symlink_to(STACK / "venv")  # meshctl runs agents with the project's .venv
    return project, names


def healthy_names(url: str) -> set[str]:
    try:
        with urllib.request.urlopen(url + "/agents", timeout=1) as response:
            listed = json.load(response).get("agents") or []
    except (OSError, ValueError):
        return set()
    return {agent.get("name") for agent in listed if agent.get("status") == "healthy"}


def until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(READ_EVERY)
    return False


def processes_of(project: Path, port: int) -> list[psutil.Process]:
    """The agents and mesh-compose's supervisor (their command lines name
    `project`) and the registry serving `port`."""
    found = [proc for proc in psutil.process_iter(["cmdline"]) if str(project) in " ".join(proc.info["cmdline"] or ())]
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            found.append(psutil.Process(connection.pid))
    return found


def alive(pid: int, create_time: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == create_time and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Tool:
    name = ""

    def __init__(self, project: Path, port: int, home: Path) -> None:
        self.project, self.port, self.home = project, port, home
        self.url = f"http://127.0.0.1:{port}"

    def start_argv(self, names: Sequence[str]) -> list[str]:
        raise NotImplementedError

    def stop_argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PATH": f"{STACK / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "VIRTUAL_ENV": str(STACK / "venv"), "HOST": "127.0.0.1", "MCP_MESH_HTTP_HOST": "127.0.0.1"}
        env.pop("MCP_MESH_REGISTRY_URL", None)
        return env


class MeshCompose(Tool):
    name = "mesh-compose"

    def start_argv(self, names: Sequence[str]) -> list[str]:
        return [sys.executable, "-m", "meshcompose", "up", "-d", "--registry-url", self.url]

    def stop_argv(self) -> list[str]:
        return [sys.executable, "-m", "meshcompose", "down"]


class Meshctl(Tool):
    name = "meshctl"
    binary = DEFAULT_MESHCTL

    def start_argv(self, names: Sequence[str]) -> list[str]:
        return [str(self.binary), "start", "-d", "--registry-host", "127.0.0.1", "--registry-port", str(self.port),
                *(f"{name}.py" for name in names)]

    def stop_argv(self) -> list[str]:
        return [str(self.binary), "stop"]

    def env(self) -> dict[str, str]:
        return {**super().env(), "HOME": str(self.home)}  # its ~/.mcp-mesh: this run's alone


def run_once(tool_class: type[Tool], agents: int) -> Run:
    run = Run()
    with tempfile.TemporaryDirectory(prefix="bench-mesh-") as scratch:
        project, names = make_project(Path(scratch), agents)
        home = Path(scratch) / "home"
        home.mkdir()
        tool = tool_class(project, free_port(), home)
        try:
            _start(tool, names, run)
            _stop(tool, run)
        finally:
            _cleanup(run)
    return run


def _start(tool: Tool, names: Sequence[str], run: Run) -> None:
    with open(tool.project / "start.log", "wb") as log:
        began = time.monotonic()
        command = subprocess.Popen(tool.start_argv(names), cwd=tool.project, env=tool.env(),
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        run.note(psutil.Process(command.pid))
        if until(lambda: set(names) <= healthy_names(tool.url), REGISTERED_TIMEOUT):
            run.registered = time.monotonic() - began
        command.wait(REGISTERED_TIMEOUT)
    for proc in processes_of(tool.project, tool.port):
        run.note(proc)


def _stop(tool: Tool, run: Run) -> None:
    targets = dict(run.pids)
    began = time.monotonic()
    command = subprocess.run(tool.stop_argv(), cwd=tool.project, env=tool.env(), stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=STOP_TIMEOUT)
    if command.returncode != 0:
        print(f"{tool.name}: stop exited {command.returncode}: {command.stderr.decode()[-300:]}", file=sys.stderr)
    if until(lambda: not any(alive(pid, created) for pid, created in targets.items()), STOP_TIMEOUT):
        run.stopped = time.monotonic() - began


def _cleanup(run: Run) -> None:
    """Whatever a run started and left behind, by pid (and create time)."""
    for pid, created in run.pids.items():
        if alive(pid, created):
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass


def median(values: Sequence[float | None]) -> str:
    measured = [value for value in values if value is not None]
    if not measured:
        return "—"
    failed = len(values) - len(measured)
    return f"{statistics.median(measured):.2f} s" + (f" ({failed} failed)" if failed else "")


def measure(rounds: int) -> dict[str, dict[str, list[float | None]]]:
    tools: list[type[Tool]] = [MeshCompose, Meshctl]
    results: dict[str, dict[str, list[float | None]]] = {tool.name: {} for tool in tools}
    for round_index in range(rounds):
        order = tools if round_index % 2 == 0 else list(reversed(tools))
        for agents in (2, 8):
            for tool in order:
                run = run_once(tool, agents)
                figures = results[tool.name]
                figures.setdefault(f"registered{agents}", []).append(run.registered)
                figures.setdefault(f"stop{agents}", []).append(run.stopped)
                print(f"round {round_index + 1}: {tool.name} {agents} agents: registered "
                      f"{run.registered and round(run.registered, 2)} s, stop {run.stopped and round(run.stopped, 2)} s",
                      file=sys.stderr, flush=True)
    return results


def table(results: dict[str, dict[str, list[float | None]]], rounds: int) -> str:
    rows = [("registry + 2 agents, time until all registered", "registered2"),
            ("registry + 8 agents, time until all registered", "registered8"),
            ("stop (2 agents and the registry)", "stop2"), ("stop (8 agents and the registry)", "stop8")]
    lines = [f"| medians of {rounds} | mesh-compose | meshctl |", "|---|---|---|"]
    lines += [f"| {label} | {median(results['mesh-compose'][key])} | {median(results['meshctl'][key])} |"
              for label, key in rows]
    return "\n".join(lines)


def write_section(path: Path, text: str, markers: tuple[str, str] = (SECTION_START, SECTION_END)) -> None:
    """Replaces a benchmark's section of `path` (between `markers`, this one's by
    default), or appends it at the end (after the hand-written marker of docs/benchmarks.md)."""
    start, end = markers
    page = path.read_text() if path.exists() else ""
    section = f"{start}\n{text}\n{end}"
    if start in page and end in page:
        head, rest = page.split(start, 1)
        page = head + section + rest.split(end, 1)[1]
    else:
        page = page.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(page)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--meshctl", type=Path, default=Path(os.environ.get("MESHCTL") or DEFAULT_MESHCTL))
    parser.add_argument("--markdown", type=Path, help="also write the table into this page's bench_mesh section")
    args = parser.parse_args(argv)
    missing = [str(path) for path in (args.meshctl, STACK / "bin" / "mcp-mesh-registry", STACK / "venv" / "bin" / "python")
               if not path.exists()]
    if missing:
        print(f"missing: {', '.join(missing)} (npm pack @mcpmesh/cli-linux-x64 for meshctl; "
              "bash scripts/install-mesh.sh for the stack)", file=sys.stderr)
        return 2
    Meshctl.binary = args.meshctl
    rendered = table(measure(args.rounds), args.rounds)
    print(rendered)
    if args.markdown:
        write_section(args.markdown, "## MCP Mesh: mesh-compose and meshctl (`benchmarks/bench_mesh.py`)\n\n"
                      + rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
