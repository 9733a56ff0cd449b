"""How each tool is launched, asked to stop, and queried.

Every orchestrator runs with `BENCH_TOKEN` in its environment, inherited by
its agents, so whatever a tool leaves behind can be found and killed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import workloads
from peers import Peers
from workloads import Workload

TOKEN_VAR = "BENCH_TOKEN"
FLOOR_NO_PIPES = "bare spawner (no pipes)"
FLOOR_PIPES = "bare script (pipes)"


class ToolFailed(Exception):
    """The tool did not do the work; the harness skips it from now on."""


@dataclass
class Session:
    """One launched orchestrator."""

    proc: subprocess.Popen
    outputs: list[Path]  # files the agents' output ends up in
    measured_pid: int | None  # the orchestrator to measure CPU/RSS of; None if unknown
    stopper: subprocess.Popen | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Tool:
    name = "?"
    flood = True  # can it run the log throughput workload?
    idle = True  # is its idle cost (CPU, memory) measured?
    ordered = False  # does its project declare dependencies (and so a stop order to check)?
    returns_after_up = False  # does the launching command return once the agents are up (`up -d`)?
    scale = True  # does it take part in the scale series?
    check_imports = False  # are its status and --help commands checked for heavy imports?
    status_name: str | None = None  # label of its status command, if it has one
    help_name: str | None = None  # label of its --help command

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def env_for(self, workload: Workload) -> dict[str, str]:
        """The tool's environment with the user cache in the workload's directory.

        A fresh directory therefore means cold caches (mesh-compose keeps
        interpreter probes and remembered validations and plans there), and a
        second run in the same directory means warm ones.
        """
        return {**self.env, "XDG_CACHE_HOME": str(workload.cache),
                "MESH_COMPOSE_CACHE_DIR": str(workload.cache / "mesh-compose")}

    def launch(self, workload: Workload, output: Path) -> Session:
        raise NotImplementedError

    def close(self) -> None:
        """Remove whatever the tool kept outside the workloads."""

    def request_stop(self, session: Session, workload: Workload) -> None:
        session.proc.send_signal(signal.SIGINT)

    def status_argv(self, workload: Workload) -> list[str] | None:
        return None

    def help_argv(self) -> list[str] | None:
        return None

    def _spawn(self, argv: list[str], workload: Workload, output: Path) -> subprocess.Popen:
        with open(output, "ab") as sink:
            return subprocess.Popen(argv, cwd=workload.directory, stdout=sink, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self.env_for(workload))


class BareNoPipes(Tool):
    """The first floor: a script that spawns every agent on its own stdout (no pipes)."""

    name = FLOOR_NO_PIPES
    help_name: str | None = "python -c pass"
    pipes = False

    def launch(self, workload: Workload, output: Path) -> Session:
        script = workloads.write_bare(workload, self.pipes)
        proc = self._spawn([sys.executable, str(script), str(workload.directory / "bare-spec.json")], workload, output)
        return Session(proc, [output], proc.pid)

    def help_argv(self) -> list[str] | None:
        return [sys.executable, "-c", "pass"]  # the floor for a Python CLI: interpreter start-up


class BarePipes(BareNoPipes):
    """The second floor: one pipe per agent, all copied to the record by one loop."""

    name = FLOOR_PIPES
    help_name = None
    pipes = True

    def help_argv(self) -> list[str] | None:
        return None


class Honcho(Tool):
    name = "honcho"
    help_name = "honcho --help"

    def __init__(self, env: dict[str, str], executable: Path) -> None:
        super().__init__(env)
        self.executable = executable

    def launch(self, workload: Workload, output: Path) -> Session:
        procfile = workloads.write_procfile(workload)
        argv = [str(self.executable), "-f", str(procfile), "-d", str(workload.directory), "start"]
        proc = self._spawn(argv, workload, output)
        return Session(proc, [output], proc.pid)

    def help_argv(self) -> list[str] | None:
        return [str(self.executable), "--help"]


class Supervisord(Tool):
    name = "supervisord"
    status_name = "supervisorctl status"
    help_name = "supervisorctl --help"

    def __init__(self, env: dict[str, str], supervisord: Path, supervisorctl: Path) -> None:
        super().__init__(env)
        self.supervisord, self.supervisorctl = supervisord, supervisorctl
        # Its socket lives in a short directory of our own (a unix socket path is limited in length).
        self.sockets = Path(tempfile.mkdtemp(prefix="mcb"))

    def launch(self, workload: Workload, output: Path) -> Session:
        config = self._config(workload)
        if not config.exists():
            socket = self.sockets / f"{len(list(self.sockets.iterdir()))}.sock"
            workloads.write_supervisord(workload, socket)
        for log in workloads.supervisord_logs(workload):
            log.unlink(missing_ok=True)
        proc = self._spawn([str(self.supervisord), "-c", str(config)], workload, output)
        return Session(proc, workloads.supervisord_logs(workload), proc.pid)

    def request_stop(self, session: Session, workload: Workload) -> None:
        session.stopper = subprocess.Popen(self._ctl(workload, "shutdown"), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, env=self.env_for(workload))

    def status_argv(self, workload: Workload) -> list[str] | None:
        return self._ctl(workload, "status")

    def help_argv(self) -> list[str] | None:
        return [str(self.supervisorctl), "--help"]

    def close(self) -> None:
        shutil.rmtree(self.sockets, ignore_errors=True)

    def _config(self, workload: Workload) -> Path:
        return workload.directory / "supervisord.conf"

    def _ctl(self, workload: Workload, *command: str) -> list[str]:
        return [str(self.supervisorctl), "-c", str(self._config(workload)), *command]


class Circus(Tool):
    """`circusd circus.ini` in the foreground (one watcher per agent), stopped with SIGINT."""

    name = "circus"
    help_name = "circusd --help"

    def __init__(self, env: dict[str, str], circusd: Path) -> None:
        super().__init__(env)
        self.circusd = circusd
        # Its ipc endpoints live in a short directory of our own (a unix socket path is limited in length).
        self.sockets = Path(tempfile.mkdtemp(prefix="mcc"))

    def launch(self, workload: Workload, output: Path) -> Session:
        config = workload.directory / "circus.ini"
        if not config.exists():
            endpoints = self.sockets / str(len(list(self.sockets.iterdir())))
            endpoints.mkdir()
            workloads.write_circus(workload, endpoints)
        proc = self._spawn([str(self.circusd), str(config)], workload, output)
        return Session(proc, [output], proc.pid)

    def help_argv(self) -> list[str] | None:
        return [str(self.circusd), "--help"]

    def close(self) -> None:
        shutil.rmtree(self.sockets, ignore_errors=True)


class Pm2(Tool):
    """`pm2-runtime start ecosystem.config.json` in the foreground, stopped with SIGINT.

    Every workload directory gets its own PM2_HOME (a fresh one is a cold
    start), in a short directory of ours: pm2 keeps its sockets and pid file
    there, and never touches the user's ~/.pm2 or a pm2 daemon already running.
    Its processes carry the run's token like every other tool's, so the
    harness ends whatever it leaves, by pid.
    """

    name = "pm2"
    help_name = "pm2-runtime --help"

    def __init__(self, env: dict[str, str], runtime: Path) -> None:
        super().__init__(env)
        self.runtime = runtime
        self.homes = Path(tempfile.mkdtemp(prefix="mcp"))

    def env_for(self, workload: Workload) -> dict[str, str]:
        return {**super().env_for(workload), "PM2_HOME": str(self._home(workload))}

    def launch(self, workload: Workload, output: Path) -> Session:
        ecosystem = workloads.write_pm2(workload)
        proc = self._spawn([str(self.runtime), "start", str(ecosystem)], workload, output)
        return Session(proc, [output], proc.pid)

    def help_argv(self) -> list[str] | None:
        return [str(self.runtime), "--help"]

    def close(self) -> None:
        shutil.rmtree(self.homes, ignore_errors=True)

    def _home(self, workload: Workload) -> Path:
        marker = workload.directory / "pm2-home"
        if not marker.exists():
            home = self.homes / str(len(list(self.homes.iterdir())))
            home.mkdir()
            marker.write_text(str(home))
        return Path(marker.read_text())


class MeshCompose(Tool):
    """`mesh-compose -f FILE up` in the foreground, stopped by SIGINT (Ctrl+C)."""

    name = "mesh-compose"
    check_imports = True
    status_name: str | None = "mesh-compose ps"
    help_name: str | None = "mesh-compose --help"

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.cli = mesh_compose_cli()

    def launch(self, workload: Workload, output: Path) -> Session:
        project = workloads.write_mesh_compose(workload)
        proc = self._spawn([*self.cli, "-f", str(project), "--no-color", "up"], workload, output)
        return Session(proc, [output], proc.pid)

    def status_argv(self, workload: Workload) -> list[str] | None:
        return [*self.cli, "-f", str(workload.directory / "mesh-compose.yaml"), "ps"]

    def help_argv(self) -> list[str] | None:
        return [*self.cli, "--help"]


class MeshComposeOrdered(MeshCompose):
    """Foreground `up` of a project with `depends_on` edges, to check the stop order (Ctrl+C)."""

    name = "mesh-compose (depends_on)"
    flood = idle = scale = check_imports = False
    ordered = True
    status_name = help_name = None

    def launch(self, workload: Workload, output: Path) -> Session:
        project = workloads.write_mesh_compose(workload, ordered=True)
        proc = self._spawn([*self.cli, "-f", str(project), "--no-color", "up"], workload, output)
        return Session(proc, [output], proc.pid)

    def status_argv(self, workload: Workload) -> list[str] | None:
        return None

    def help_argv(self) -> list[str] | None:
        return None


class MeshComposeDetached(MeshCompose):
    """`mesh-compose up -d`, then `mesh-compose down`; its supervisor's pid is not ours to measure."""

    name = "mesh-compose -d"
    flood = False  # detached output goes to per-agent log files, not to one stream
    idle = check_imports = False  # its supervisor is measured by bench_memory.py
    returns_after_up = True
    status_name = None
    help_name = None

    def launch(self, workload: Workload, output: Path) -> Session:
        project = workloads.write_mesh_compose(workload)
        proc = self._spawn([*self.cli, "-f", str(project), "--no-color", "up", "-d"], workload, output)
        return Session(proc, [output], None, extra={"detached": "yes"})

    def request_stop(self, session: Session, workload: Workload) -> None:
        project = workload.directory / "mesh-compose.yaml"
        with open(session.outputs[0], "ab") as sink:
            session.stopper = subprocess.Popen([*self.cli, "-f", str(project), "down"], cwd=workload.directory,
                                               stdout=sink, stderr=subprocess.STDOUT, env=self.env_for(workload))

    def status_argv(self, workload: Workload) -> list[str] | None:
        return None

    def help_argv(self) -> list[str] | None:
        return None


def mesh_compose_cli() -> list[str]:
    """The installed console script next to this interpreter, else `python -m meshcompose`."""
    folder = Path(sys.executable).parent
    script = folder / ("mesh-compose.exe" if os.name == "nt" else "mesh-compose")
    if script.exists():
        return [str(script)]
    found = shutil.which("mesh-compose")
    return [found] if found else [sys.executable, "-m", "meshcompose"]


def all_tools(peers: Peers, token: str) -> tuple[list[Tool], dict[str, str]]:
    """The tools to compare, and a note for each peer that is not available."""
    env = base_env(token)
    tools: list[Tool] = [BareNoPipes(env), BarePipes(env)]
    if peers.honcho:
        tools.append(Honcho(env, peers.honcho))
    if peers.supervisord and peers.supervisorctl:
        tools.append(Supervisord(env, peers.supervisord, peers.supervisorctl))
    if peers.circusd:
        tools.append(Circus(env, peers.circusd))
    if peers.pm2_runtime:
        tools.append(Pm2(env, peers.pm2_runtime))
    tools += [MeshCompose(env), MeshComposeDetached(env), MeshComposeOrdered(env)]
    return tools, dict(peers.notes)


def slug(name: str) -> str:
    """A tool's name as a directory name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def base_env(token: str) -> dict[str, str]:
    """This environment with the run's token, minus what would change how the tools run."""
    env = {**os.environ, TOKEN_VAR: token}
    for name in ("PYTHONUNBUFFERED", "PYTHONPROFILEIMPORTTIME", "PYTHONTRACEMALLOC", "PYTHONDONTWRITEBYTECODE",
                 "MESH_COMPOSE_CACHE_DIR"):
        env.pop(name, None)
    return env
