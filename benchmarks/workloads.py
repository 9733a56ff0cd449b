"""The work every tool runs: N trivial agents, and the files each tool reads.

One agent script serves both workloads. It writes a readiness marker
(`markers/NAME.up`, holding its pid) once it is running, and on SIGTERM or
SIGINT writes `markers/NAME.down` (the system-wide monotonic clock, in ns, so
the stop order of dependents and dependencies can be checked) and exits. In
`flood` mode it then waits for `markers/GO` and writes LINES
lines to stdout as fast as it can, ends with `FLOOD-DONE NAME`, and idles
until stopped (honcho stops everything when one process exits, so no agent
exits on its own). It writes with `os.write` in batches, so its speed does not
depend on whether a tool runs Python unbuffered.

Every tool gets the same argv per agent: `[python, agent.py, NAME, MARKERS, MODE, LINES]`.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

AGENT = r'''
import os, signal, sys, time

name, markers, mode, lines = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def stop(signum, frame):
    with open(os.path.join(markers, name + ".down"), "w") as handle:
        handle.write(str(time.monotonic_ns()))
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
temp = os.path.join(markers, name + ".tmp")
with open(temp, "w") as handle:
    handle.write(str(os.getpid()))
os.replace(temp, os.path.join(markers, name + ".up"))
if mode == "flood":
    go = os.path.join(markers, "GO")
    while not os.path.exists(go):
        time.sleep(0.001)
    batch = 64
    chunk = "".join(f"{name} flood line {i:03d} padding-padding-padding-padding\n" for i in range(batch)).encode()
    for _ in range(lines // batch):
        os.write(1, chunk)
    os.write(1, f"FLOOD-DONE {name}\n".encode())
while True:
    signal.pause()
'''

# The no-pipe floor: the agents inherit the spawner's stdout (the file the harness hands it).
BARE_NO_PIPES = r'''
"""Spawn every agent directly (they write to our stdout); stop them all on SIGINT/SIGTERM."""
import json, signal, subprocess, sys

spec = json.load(open(sys.argv[1]))
children = [subprocess.Popen(argv, cwd=spec["cwd"]) for argv in spec["agents"]]

def stop(signum, frame):
    for child in children:
        child.terminate()
    for child in children:
        child.wait()
    sys.exit(0)

signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
while True:
    signal.pause()
'''

# The pipe floor: what an orchestrator that records its agents' output must do at least,
# one pipe per agent and one loop copying every pipe to the record (our stdout).
BARE_PIPES = r'''
"""Spawn every agent on a pipe, copy all pipes to stdout; stop them all on SIGINT/SIGTERM."""
import json, os, selectors, signal, subprocess, sys

spec = json.load(open(sys.argv[1]))
children = []
selector = selectors.DefaultSelector()
for argv in spec["agents"]:
    child = subprocess.Popen(argv, cwd=spec["cwd"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    children.append(child)
    selector.register(child.stdout.fileno(), selectors.EVENT_READ)

def stop(signum, frame):
    for child in children:
        child.terminate()
    for child in children:
        child.wait()
    sys.exit(0)

signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
while True:
    for key, _ in selector.select():
        data = os.read(key.fd, 65536)
        if not data:
            selector.unregister(key.fd)
            continue
        while data:
            data = data[os.write(1, data):]
'''


@dataclass(frozen=True)
class Workload:
    """One tool's copy of a workload, in its own directory."""

    directory: Path
    mode: str  # "idle" or "flood"
    names: list[str]
    lines: int  # per agent, flood mode only
    python: str

    @property
    def markers(self) -> Path:
        return self.directory / "markers"

    @property
    def script(self) -> Path:
        return self.directory / "agent.py"

    @property
    def cache(self) -> Path:
        """The user cache directory every tool gets here (XDG_CACHE_HOME): fresh with the directory."""
        return self.directory / ".cache"

    def argv(self, name: str) -> list[str]:
        return [self.python, str(self.script), name, str(self.markers), self.mode, str(self.lines)]

    def reset(self) -> None:
        """Fresh markers before each launch."""
        shutil.rmtree(self.markers, ignore_errors=True)
        self.markers.mkdir(parents=True)


def make_workload(root: Path, tool: str, mode: str, count: int, lines: int = 0) -> Workload:
    directory = root / tool / mode
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    names = [f"a{index:02d}" for index in range(1, count + 1)]
    workload = Workload(directory, mode, names, lines, sys.executable)
    workload.script.write_text(AGENT)
    workload.reset()
    return workload


def write_bare(workload: Workload, pipes: bool) -> Path:
    """The floor script (with or without pipes) and its spec; returns the script."""
    spec = {"cwd": str(workload.directory), "agents": [workload.argv(n) for n in workload.names]}
    (workload.directory / "bare-spec.json").write_text(json.dumps(spec))
    path = workload.directory / ("bare-pipes.py" if pipes else "bare-no-pipes.py")
    path.write_text(BARE_PIPES if pipes else BARE_NO_PIPES)
    return path


def write_procfile(workload: Workload) -> Path:
    # honcho runs each line through /bin/sh; `exec` keeps the agent a direct child.
    lines = [f"{name}: exec {shlex.join(workload.argv(name))}" for name in workload.names]
    path = workload.directory / "Procfile"
    path.write_text("\n".join(lines) + "\n")
    return path


def dependency_tree(names: list[str]) -> dict[str, list[str]]:
    """Three levels: the first agent, four that need it, and the rest each needing one of the four.

    A shape like a mesh's (a few shared agents, many that use them), with two
    stop phases that must wait for the one before.
    """
    middle = names[1:5]
    tree: dict[str, list[str]] = {name: [names[0]] for name in middle}
    for index, name in enumerate(names[5:]):
        tree[name] = [middle[index % len(middle)]]
    return tree


def write_mesh_compose(workload: Workload, ordered: bool = False) -> Path:
    """The project file; `ordered` adds `depends_on` edges (see `dependency_tree`)."""
    agents: dict[str, dict[str, object]] = {
        name: {"script": workload.script.name, "args": workload.argv(name)[2:]}
        for name in workload.names
    }
    if ordered:
        for name, needs in dependency_tree(workload.names).items():
            agents[name]["depends_on"] = needs
    document = {"name": f"bench-{workload.mode}", "python": {"interpreter": workload.python}, "agents": agents}
    path = workload.directory / "mesh-compose.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def write_supervisord(workload: Workload, socket: Path) -> Path:
    """A nodaemon supervisord config serving its control socket at `socket`."""
    logs = workload.directory / "logs"
    logs.mkdir(exist_ok=True)
    sections = [
        f"[unix_http_server]\nfile={socket}\n",
        f"[supervisord]\nnodaemon=true\nlogfile={workload.directory / 'supervisord.log'}\n"
        f"pidfile={workload.directory / 'supervisord.pid'}\nchildlogdir={logs}\n",
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
        f"[supervisorctl]\nserverurl=unix://{socket}\n",
    ]
    for name in workload.names:
        sections.append(
            f"[program:{name}]\ncommand={shlex.join(workload.argv(name))}\ndirectory={workload.directory}\n"
            "autostart=true\nautorestart=false\nstartsecs=0\nstopsignal=TERM\nstopwaitsecs=10\n"
            f"redirect_stderr=true\nstdout_logfile={logs / (name + '.log')}\nstdout_logfile_maxbytes=0\n"
        )
    # One group, so supervisord stops the agents together rather than one group per tick.
    sections.append(f"[group:agents]\nprograms={','.join(workload.names)}\n")
    path = workload.directory / "supervisord.conf"
    path.write_text("\n".join(sections).replace("%", "%%"))
    return path


def supervisord_logs(workload: Workload) -> list[Path]:
    return [workload.directory / "logs" / f"{name}.log" for name in workload.names]


def write_circus(workload: Workload, sockets: Path) -> Path:
    """A circusd config: one watcher per agent, output to circusd's stdout, private ipc endpoints.

    Its endpoints are unix sockets under `sockets` (the default tcp ports would
    collide with any other circusd on the machine); `copy_env` passes the run's
    token to the agents, as every other tool does.
    """
    sections = [
        "[circus]\n"
        f"endpoint = ipc://{sockets / 'control'}\n"
        f"pubsub_endpoint = ipc://{sockets / 'pubsub'}\n"
        f"stats_endpoint = ipc://{sockets / 'stats'}\n"
        "statsd = false\ncheck_delay = 5\nwarmup_delay = 0\n"
    ]
    for name in workload.names:
        sections.append(
            f"[watcher:{name}]\ncmd = {shlex.join(workload.argv(name))}\nworking_dir = {workload.directory}\n"
            "numprocesses = 1\ncopy_env = true\nrespawn = false\nstop_signal = TERM\ngraceful_timeout = 10\n"
            "stdout_stream.class = StdoutStream\nstderr_stream.class = StdoutStream\n"
        )
    path = workload.directory / "circus.ini"
    path.write_text("\n".join(sections))
    return path


def write_pm2(workload: Workload) -> Path:
    """A pm2 ecosystem file: every agent run by the same Python, not restarted, SIGINT on stop."""
    apps = [{"name": name, "script": str(workload.script), "args": workload.argv(name)[2:],
             "interpreter": workload.python, "cwd": str(workload.directory), "autorestart": False,
             "kill_timeout": 10_000, "merge_logs": True}
            for name in workload.names]
    path = workload.directory / "ecosystem.config.json"
    path.write_text(json.dumps({"apps": apps}))
    return path
