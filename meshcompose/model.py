"""The validated project: frozen dataclasses and enums, no I/O.

`config` builds these once at the boundary; everything after trusts them.
Durations are seconds (float), sizes are bytes (int), paths are absolute.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union


class Condition(str, enum.Enum):
    STARTED = "started"
    HEALTHY = "healthy"
    COMPLETED_SUCCESSFULLY = "completed_successfully"
    REGISTERED = "registered"


class RestartMode(str, enum.Enum):
    NO = "no"
    ON_FAILURE = "on-failure"
    ALWAYS = "always"
    UNLESS_STOPPED = "unless-stopped"


class HealthKind(str, enum.Enum):
    HTTP = "http"  # target: URL; 2xx/3xx is healthy
    TCP = "tcp"  # target: "host:port"; connecting is healthy
    CMD = "cmd"  # command: argv; exit 0 is healthy
    LOG = "log"  # target: regex; a matching output line is healthy
    REGISTRY = "registry"  # registered and healthy in the MCP Mesh registry


class RunKind(str, enum.Enum):
    SCRIPT = "script"  # [interpreter, -u, script, *args]
    MODULE = "module"  # [interpreter, -u, -m, module, *args]
    COMMAND = "command"  # [*command, *args]; no interpreter


@dataclass(frozen=True)
class DependsOn:
    name: str
    condition: Condition = Condition.STARTED
    required: bool = True
    restart: bool = False  # compose's: restarting the dependency (`restart NAME`) restarts this agent too


@dataclass(frozen=True)
class Healthcheck:
    kind: HealthKind
    target: str = ""  # URL, host:port or regex; empty for cmd/registry
    command: tuple[str, ...] = ()  # argv for kind CMD
    interval: float = 2.0
    timeout: float = 5.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: Optional[float] = None  # probe interval until the first success (else `interval`)


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 30.0


@dataclass(frozen=True)
class RestartPolicy:
    mode: RestartMode = RestartMode.NO
    max_restarts: Optional[int] = None  # None: unlimited
    backoff: Backoff = field(default_factory=Backoff)
    # An agent that stays up this long has its backoff delay reset.
    reset_after: float = 10.0


@dataclass(frozen=True)
class Resources:
    timeout: Optional[float] = None  # seconds
    memory_limit: Optional[int] = None  # bytes, summed RSS of the process tree
    cpu_limit: Optional[float] = None  # CPUs; < 1 throttles, whole numbers pin


class WatchAction(str, enum.Enum):
    RESTART = "restart"  # check the changed .py files compile, then restart
    REBUILD = "rebuild"  # settle the agent's packages again (as `up`), then restart


@dataclass(frozen=True)
class WatchRule:
    """One `develop.watch` entry: what `--watch` watches and what a change does."""

    path: Path  # absolute: a file or a directory (recursive)
    action: WatchAction = WatchAction.RESTART
    ignore: tuple[str, ...] = ()  # globs relative to `path`


@dataclass(frozen=True)
class Metadata:
    name: Optional[str] = None
    version: Optional[str] = None
    description: Optional[str] = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PythonRequirements:
    """What an agent needs of its interpreter."""

    requires: str = ">=3.7"  # PEP 440 specifier
    packages: tuple[str, ...] = ()  # PEP 508 requirement strings


@dataclass(frozen=True)
class Agent:
    name: str
    run: RunKind
    target: str = ""  # absolute script path, or module name; empty for COMMAND
    command: tuple[str, ...] = ()  # argv for COMMAND
    args: tuple[str, ...] = ()
    working_dir: Path = Path(".")
    interpreter: Optional[str] = None  # as written: path, venv dir or command name
    python: PythonRequirements = field(default_factory=PythonRequirements)
    # Final values: env_file contents overlaid by `environment`; bare KEYs resolved.
    environment: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[DependsOn, ...] = ()
    healthcheck: Optional[Healthcheck] = None
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    stop_signal: str = "SIGTERM"
    stop_grace_period: float = 10.0
    resources: Resources = field(default_factory=Resources)
    metadata: Metadata = field(default_factory=Metadata)
    log_level: Optional[str] = None  # the SDK's MCP_MESH_LOG_LEVEL, upper case; None: the run's --log-level
    profiles: tuple[str, ...] = ()
    watch: tuple[WatchRule, ...] = ()  # develop.watch; empty: the default for --watch
    # The agent's x-* keys as written (after interpolation and merge), for
    # tools that read their own extension, such as `x-kubernetes`.
    extensions: Mapping[str, Any] = field(default_factory=dict)
    # Settings whose value came, whole or in part, from outside the project
    # files (the caller's environment, .env/--env-file, an env_file), as
    # dotted paths: "environment.API_KEY", "healthcheck.http", "args[1]".
    # An export must not copy these values into what it writes. Not compared:
    # where a value came from is not part of what the agent is.
    external: frozenset[str] = field(default=frozenset(), compare=False)
    replicas: int = 1  # how many processes `up` runs (`replicas:` / `deploy.replicas`); 0: none
    # pm2's increment_var: environment variables (integers) that replica n
    # gets as the written value + n - 1, such as a port per replica.
    increment_vars: tuple[str, ...] = ()
    # One process of an agent with several: the agent it is a replica of
    # (None for an agent that runs as one process under its own name), and
    # its number, 1-based (MESH_COMPOSE_REPLICA).
    replica_of: Optional[str] = None
    replica: int = 1

    @property
    def group(self) -> str:
        """The agent as the file names it: what `stop NAME` of every replica names."""
        return self.replica_of or self.name

    @property
    def is_python(self) -> bool:
        return self.run is not RunKind.COMMAND


@dataclass(frozen=True)
class Registry:
    """Where agents find the MCP Mesh registry, and whether mesh-compose runs it."""

    url: Optional[str] = None  # None: decided at run time (flags, env, default)
    host: Optional[str] = None
    port: Optional[int] = None
    # argv of a registry mesh-compose starts itself; ("auto",) means
    # `mcp-mesh-registry` from PATH; empty means use an external one.
    command: tuple[str, ...] = ()

    @property
    def managed(self) -> bool:
        return bool(self.command)


@dataclass(frozen=True)
class Tracing:
    """Distributed tracing of MCP Mesh calls (`tracing:` in the file)."""

    enabled: bool = False
    redis: Optional[str] = None  # an existing Redis; None: mesh-compose runs one when enabled


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path  # where the (first) project file lives; `.mesh-compose/` goes here
    files: tuple[Path, ...]
    agents: Mapping[str, Agent]  # in file order
    python: PythonRequirements = field(default_factory=PythonRequirements)
    interpreter: Optional[str] = None  # project-wide `python.interpreter`
    registry: Registry = field(default_factory=Registry)
    profiles: tuple[str, ...] = ()  # the active ones
    tracing: Tracing = field(default_factory=Tracing)

    @property
    def state_dir(self) -> Path:
        return self.directory / ".mesh-compose" / self.name  # control.paths.state_dir


InterpreterSpec = Union[str, Path]
