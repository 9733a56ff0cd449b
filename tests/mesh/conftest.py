"""The `mesh` tier: the real mcp-mesh-registry binary and the real mcp-mesh SDK.

Install them with `bash scripts/install-mesh.sh` (into .mesh-stack/, or
MESH_STACK_DIR). MESH_SDK_VENV=venv-3.8.0 runs the tier against the newest
SDK instead of the pinned one; a module marked `every_sdk` runs against both.
When they are missing, every test here is
skipped with a reason that names the missing piece and that command; with
MESH_COMPOSE_REQUIRE_MESH=1 (for CI, after installing) a missing stack fails
instead, so the tier can never pass by not running.

Tests talk to a `MeshDriver`. `DirectDriver` starts the registry and agents
as plain subprocesses; a driver for `mesh-compose up -d` / `ps` / `down`
can replace it behind the same methods without touching the tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mesh_helpers import EXAMPLE, INSTALL_COMMAND, PROJECT, REPO, SDK_VENVS, free_port, wait_until
from meshcompose.mesh import registry
from meshcompose.model import Agent, Registry, RunKind


@dataclass(frozen=True)
class MeshStack:
    registry_binary: Path
    python: Path  # an interpreter that imports `mesh`


def stack_dir() -> Path:
    return Path(os.environ.get("MESH_STACK_DIR") or REPO / ".mesh-stack")


def _find_registry_binary() -> Path | None:
    installed = stack_dir() / "bin" / registry.REGISTRY_BINARY
    if os.access(installed, os.X_OK):
        return installed
    on_path = shutil.which(registry.REGISTRY_BINARY)
    return Path(on_path) if on_path else None


def sdk_venv() -> str:
    """Which SDK venv of the stack the tier runs against: `venv` (the pinned
    mcp-mesh) unless MESH_SDK_VENV names another, e.g. `venv-3.8.0`."""
    return os.environ.get("MESH_SDK_VENV") or "venv"


def _sdk_python(venv: str, version: str | None) -> Path | None:
    """The venv's python when it has mcp-mesh (that `version`, when given)."""
    python = stack_dir() / venv / "bin" / "python"
    if not python.exists():
        return None
    check = "import importlib.metadata as m; print(m.version('mcp-mesh'))"
    result = subprocess.run([str(python), "-c", check], capture_output=True, text=True, timeout=60)
    found = result.stdout.strip() if result.returncode == 0 else None
    return python if found and version in (None, found) else None


def missing_stack_reason(python: Path | None, venv: str, version: str | None) -> str | None:
    """Why the real stack cannot be used with `python` (the SDK in `venv`, as
    `_sdk_python` found it), or None when it can."""
    missing = []
    if _find_registry_binary() is None:
        missing.append(f"the registry binary {registry.REGISTRY_BINARY} "
                       f"(not in {stack_dir() / 'bin'} nor on PATH)")
    if python is None:
        sdk = f"mcp-mesh {version}" if version else "mcp-mesh"
        missing.append(f"the {sdk} SDK (no {stack_dir() / venv / 'bin/python'} that has it)")
    if not missing:
        return None
    return f"MCP Mesh stack not installed: missing {' and '.join(missing)}; install with `{INSTALL_COMMAND}`"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `every_sdk` runs once per SDK the stack installs."""
    if metafunc.definition.get_closest_marker("every_sdk") and "mesh_stack" in metafunc.fixturenames:
        metafunc.parametrize("mesh_stack", list(SDK_VENVS), indirect=True, scope="session",
                             ids=[f"sdk-{version}" for version in SDK_VENVS])


@pytest.fixture(autouse=True)
def sdk_start_up_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tier runs beside the other tiers' workers: a busy machine, where an
    SDK agent can lose its own start-up race (docs/mesh.md, "Three traps").
    The tier's agents import FastAPI early, as that page advises
    (test_mesh_start_up_race.py), and get its 3 s delay as a margin, unless
    the caller chose one; test_mesh_listening.py loses the race on purpose."""
    if "MCP_MESH_DEBOUNCE_DELAY" not in os.environ:
        monkeypatch.setenv("MCP_MESH_DEBOUNCE_DELAY", "3")


@pytest.fixture(scope="session")
def mesh_stack(request: pytest.FixtureRequest) -> MeshStack:
    """The registry binary and an SDK python: the one MESH_SDK_VENV names, or,
    for an `every_sdk` test, the SDK version it is parametrized with."""
    version = getattr(request, "param", None)
    venv = SDK_VENVS[version] if version else sdk_venv()
    python = _sdk_python(venv, version)
    reason = missing_stack_reason(python, venv, version)
    if reason:
        if os.environ.get("MESH_COMPOSE_REQUIRE_MESH") == "1":
            pytest.fail(reason + " (MESH_COMPOSE_REQUIRE_MESH=1)", pytrace=False)
        pytest.skip(reason)
    return MeshStack(_find_registry_binary(), python)


@dataclass
class Started:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class DirectDriver:
    """Runs the registry and agents as subprocesses, the way `up` would."""

    stack: MeshStack
    workdir: Path
    url: str = ""
    started: list[Started] = field(default_factory=list)

    def start_registry(self) -> Started:
        state_dir = self.workdir / ".mesh-compose"
        state_dir.mkdir(mode=0o700, exist_ok=True)  # as mesh-compose makes it: a looser one is refused
        self.url = f"http://127.0.0.1:{free_port()}"
        argv, env = registry.managed_command(
            _auto(), url=self.url, state_dir=state_dir, which=lambda _: str(self.stack.registry_binary))
        proc = self._spawn("registry", argv, env)
        wait_until(lambda: registry.health(self.url), 15, "the registry's /health")
        return proc

    def start_agent(self, name: str, script: Path) -> Started:
        agent = Agent(name=name, run=RunKind.SCRIPT, target=str(script), working_dir=script.parent)
        env = registry.agent_environment(PROJECT, agent, self.url)
        env["MCP_MESH_HTTP_PORT"] = str(free_port())
        return self._spawn(name, [str(self.stack.python), "-u", str(script)], env, cwd=script.parent)

    def stop(self, proc: Started, grace: float = 10) -> int:
        """SIGTERM the process group, wait the grace, then SIGKILL it."""
        _signal_group(proc.popen, signal.SIGTERM)
        try:
            return proc.popen.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.popen, signal.SIGKILL)
            return proc.popen.wait(5)

    def down(self) -> None:
        """Newest first: dependents stop before what they depend on."""
        for proc in reversed(self.started):
            if proc.popen.poll() is None:
                self.stop(proc)

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.popen.poll() is None:
                _signal_group(proc.popen, signal.SIGKILL)
                proc.popen.wait(5)

    def _spawn(self, name: str, argv: list[str], extra: dict[str, str], cwd: Path | None = None) -> Started:
        log = self.workdir / f"{name}.log"
        env = {**os.environ, **extra, "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as sink:
            popen = subprocess.Popen(argv, env=env, cwd=cwd or self.workdir, stdout=sink,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        proc = Started(name, popen, log)
        self.started.append(proc)
        return proc


def _auto() -> Registry:
    return Registry(command=("auto",))


def _signal_group(popen: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)


@pytest.fixture
def driver(mesh_stack: MeshStack, tmp_path: Path):
    mesh = DirectDriver(mesh_stack, tmp_path)
    try:
        yield mesh
    finally:
        mesh.kill_all()  # whatever a failing test left running


@pytest.fixture
def example(tmp_path: Path, mesh_stack):
    """A copy of examples/mcp-mesh, and a CLI runner whose PATH has the
    registry binary and whose active venv has the SDK."""
    project = tmp_path / "mcp-mesh"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".mesh-compose"))
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent)}
    env.pop("MCP_MESH_REGISTRY_URL", None)

    def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    yield project, cli
    cli("down", "-t", "5")  # whatever a failing test left running
