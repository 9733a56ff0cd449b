"""How each tool is launched, asked to stop, and queried.

Every orchestrator runs with `BENCH_TOKEN` in its environment, inherited by
its agents, so whatever a tool leaves behind can be found and killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import workloads
from peers import Peers
from workloads import Workload

TOKEN_VAR = "BENCH_TOKEN"


class ToolFailed(Exception):
    """The tool did not do the work; the harness skips it from now on."""


@dataclass
class Session:
    """One launched orchestrator."""

    proc: subprocess.Popen
    outputs: List[Path]  # files the agents' output ends up in
    measured_pid: Optional[int]  # the orchestrator to measure CPU/RSS of; None if unknown
    stopper: Optional[subprocess.Popen] = None
    extra: Dict[str, str] = field(default_factory=dict)


class Tool:
    name = "?"
    flood = True  # can it run the log throughput workload?
    status_name: Optional[str] = None  # label of its status command, if it has one
    help_name: Optional[str] = None  # label of its --help command

    def __init__(self, env: Dict[str, str]) -> None:
        self.env = env

    def launch(self, workload: Workload, output: Path) -> Session:
        raise NotImplementedError

    def request_stop(self, session: Session, workload: Workload) -> None:
        session.proc.send_signal(signal.SIGINT)

    def status_argv(self, workload: Workload) -> Optional[List[str]]:
        return None

    def help_argv(self) -> Optional[List[str]]:
        return None

    def _spawn(self, argv: List[str], workload: Workload, output: Path) -> subprocess.Popen:
        with open(output, "ab") as sink:
            return subprocess.Popen(argv, cwd=workload.directory, stdout=sink, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self.env)


class Bare(Tool):
    name = "bare script"
    help_name = "python -c pass"

    def launch(self, workload: Workload, output: Path) -> Session:
        script = workloads.write_bare(workload, output)
        proc = self._spawn([sys.executable, str(script), str(workload.directory / "bare-spec.json")], workload, output)
        return Session(proc, [output], proc.pid)

    def help_argv(self) -> Optional[List[str]]:
        return [sys.executable, "-c", "pass"]  # the floor for a Python CLI: interpreter start-up


class Honcho(Tool):
    name = "honcho"
    help_name = "honcho --help"

    def __init__(self, env: Dict[str, str], executable: Path) -> None:
        super().__init__(env)
        self.executable = executable

    def launch(self, workload: Workload, output: Path) -> Session:
        procfile = workloads.write_procfile(workload)
        argv = [str(self.executable), "-f", str(procfile), "-d", str(workload.directory), "start"]
        proc = self._spawn(argv, workload, output)
        return Session(proc, [output], proc.pid)

    def help_argv(self) -> Optional[List[str]]:
        return [str(self.executable), "--help"]


class Supervisord(Tool):
    name = "supervisord"
    status_name = "supervisorctl status"
    help_name = "supervisorctl --help"

    def __init__(self, env: Dict[str, str], supervisord: Path, supervisorctl: Path) -> None:
        super().__init__(env)
        self.supervisord, self.supervisorctl = supervisord, supervisorctl
        self.configs: Dict[Path, Path] = {}

    def launch(self, workload: Workload, output: Path) -> Session:
        config = self.configs.get(workload.directory) or workloads.write_supervisord(workload)
        self.configs[workload.directory] = config
        for log in workloads.supervisord_logs(workload):
            log.unlink(missing_ok=True)
        proc = self._spawn([str(self.supervisord), "-c", str(config)], workload, output)
        return Session(proc, workloads.supervisord_logs(workload), proc.pid)

    def request_stop(self, session: Session, workload: Workload) -> None:
        session.stopper = subprocess.Popen(self._ctl(workload, "shutdown"), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, env=self.env)

    def status_argv(self, workload: Workload) -> Optional[List[str]]:
        return self._ctl(workload, "status")

    def help_argv(self) -> Optional[List[str]]:
        return [str(self.supervisorctl), "--help"]

    def _ctl(self, workload: Workload, *command: str) -> List[str]:
        return [str(self.supervisorctl), "-c", str(self.configs[workload.directory]), *command]


class MeshCompose(Tool):
    """`mesh-compose -f FILE up` in the foreground, stopped by SIGINT (Ctrl+C)."""

    name = "mesh-compose"
    status_name = "mesh-compose ps"
    help_name = "mesh-compose --help"

    def __init__(self, env: Dict[str, str]) -> None:
        super().__init__(env)
        self.cli = mesh_compose_cli()

    def launch(self, workload: Workload, output: Path) -> Session:
        project = workloads.write_mesh_compose(workload)
        proc = self._spawn([*self.cli, "-f", str(project), "--no-color", "up"], workload, output)
        return Session(proc, [output], proc.pid)

    def status_argv(self, workload: Workload) -> Optional[List[str]]:
        return [*self.cli, "-f", str(workload.directory / "mesh-compose.yaml"), "ps"]

    def help_argv(self) -> Optional[List[str]]:
        return [*self.cli, "--help"]


class MeshComposeDetached(MeshCompose):
    """`mesh-compose up -d`, then `mesh-compose down`; its supervisor's pid is not ours to measure."""

    name = "mesh-compose -d"
    flood = False  # detached output goes to per-agent log files, not to one stream
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
                                               stdout=sink, stderr=subprocess.STDOUT, env=self.env)

    def status_argv(self, workload: Workload) -> Optional[List[str]]:
        return None

    def help_argv(self) -> Optional[List[str]]:
        return None


def mesh_compose_cli() -> List[str]:
    """The installed console script next to this interpreter, else `python -m meshcompose`."""
    folder = Path(sys.executable).parent
    script = folder / ("mesh-compose.exe" if os.name == "nt" else "mesh-compose")
    if script.exists():
        return [str(script)]
    found = shutil.which("mesh-compose")
    return [found] if found else [sys.executable, "-m", "meshcompose"]


def all_tools(peers: Peers, token: str) -> tuple[List[Tool], Dict[str, str]]:
    """The tools to compare, and a note for each peer that is not available."""
    env = {**os.environ, TOKEN_VAR: token}
    env.pop("PYTHONUNBUFFERED", None)
    tools: List[Tool] = [Bare(env)]
    if peers.honcho:
        tools.append(Honcho(env, peers.honcho))
    if peers.supervisord and peers.supervisorctl:
        tools.append(Supervisord(env, peers.supervisord, peers.supervisorctl))
    tools += [MeshCompose(env), MeshComposeDetached(env)]
    return tools, dict(peers.notes)
