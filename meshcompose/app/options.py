"""The typed options of the user actions that load the project, and the
callbacks the caller supplies.

One frozen dataclass per action, built by the CLI from its arguments (the
way docker compose's `api.UpOptions` is built from cobra flags). What the
application cannot decide or show itself comes in as a callback: the answer
to the install prompt (`InstallOptions.decide`), one-line messages for the
user (`notify`), and where a foreground run's output goes (`UpOptions.console`).

The commands that must stay fast and work without a valid project file
define their options beside their functions: `ProjectSelection` in
`app.project`, `PsOptions` in `app.ps`, `LogsOptions` and `LogSink` in
`app.logs`, `DownOptions` in `app.down`, `StopOptions` in `app.stop` (and
so, for symmetry, `RestartOptions` in `app.restart`). Creating a frozen
dataclass costs about a millisecond, and `ps` should not pay for the dozen
defined here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from meshcompose.app.project import Notify, ignore

if TYPE_CHECKING:
    from meshcompose.errors import ExternallyManagedError
    from meshcompose.pyenv.resolve import Environment
    from meshcompose.runtime.detached import Standby
    from meshcompose.runtime.events import AgentStatus, Notice

DEFAULT_WAIT_TIMEOUT = 60.0
# The derived `up -d` wait: this much per start wave (each waits for the one
# before), never under DEFAULT_WAIT_TIMEOUT. An SDK agent takes ~2.5 s to
# register on an idle machine and several times that under load.
WAIT_PER_WAVE = 20.0


# -- Python environments -----------------------------------------------------------


class InstallPolicy(str, enum.Enum):
    ASK = "ask"  # ask `decide`; without one, stop with the exact fix command
    INSTALL = "install"  # --install
    CONTINUE = "continue"  # --no-install


class Decision(str, enum.Enum):
    """The answers to "packages are missing": the letters the prompt offers."""

    INSTALL = "i"  # into the interpreter that lacks them
    VENV = "v"  # into a new project .venv made from that interpreter
    CONTINUE = "c"  # without them
    QUIT = "q"


@dataclass(frozen=True)
class MissingPackages:
    """The question put to `InstallOptions.decide`."""

    environment: Environment  # the interpreter, the agents sharing it, what they lack
    project_dir: Path  # where choice `v` creates .venv
    choices: tuple[Decision, ...]  # what may be answered; the first is the default
    # When set, installing was just refused (PEP 668) and this asks again.
    refusal: ExternallyManagedError | None = None
    in_mesh: bool = False  # an agent lacking them is an MCP Mesh agent (it needs the registry)


# (requirement, "installing" | "installed" | "failed"), or (a line of the installer's, "step")
Progress = Callable[[str, str], None]


class EnvironmentReport(Protocol):
    """Where the environment step reports; the CLI renders it."""

    def summary(self, environments: Sequence[Environment]) -> None:
        """One line per distinct interpreter: version, kind, rule, agents, what is missing."""

    def message(self, text: str) -> None:
        """What was done: `installing into X`, `created X`, `continuing without X`."""

    def refused(self, error: ExternallyManagedError) -> None:
        """An install refused by an externally managed Python, before asking again."""

    def installing(self, executable: str, requirements: Sequence[str]) -> ContextManager[Progress]:
        """Around one install; the progress callback it yields is called per
        requirement, and with each progress line the installer writes (see pyenv.install)."""


class SilentReport:
    """An EnvironmentReport that shows nothing."""

    def summary(self, environments: Sequence[Environment]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def refused(self, error: ExternallyManagedError) -> None:
        pass

    def installing(self, executable: str, requirements: Sequence[str]) -> ContextManager[Progress]:
        import contextlib

        return contextlib.nullcontext(lambda requirement, status: None)


@dataclass(frozen=True)
class InstallOptions:
    policy: InstallPolicy = InstallPolicy.ASK
    # Someone to ask (a terminal); None: nobody, so ASK stops with the fix command.
    decide: Callable[[MissingPackages], Decision] | None = None
    index_args: tuple[str, ...] = ()  # passed to pip/uv unchanged (--index-url, --find-links)
    report: EnvironmentReport = field(default_factory=SilentReport)


# -- the registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryOptions:
    url: str | None = None  # --registry-url
    host: str | None = None  # --registry-host
    port: int | None = None  # --registry-port
    log_level: str = "INFO"  # MCP_MESH_LOG_LEVEL for the agents

    @property
    def given(self) -> bool:
        """True when the command line chose the registry."""
        return bool(self.url or self.host or self.port)


# -- running -------------------------------------------------------------------------------


class ConsoleSink(Protocol):
    """A foreground run's output: the supervisor's observer, flushed when idle."""

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None: ...

    def agent_status(self, status: AgentStatus) -> None: ...

    def notice(self, notice: Notice) -> None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class UpOptions:
    names: tuple[str, ...] = ()  # empty: every agent of the active profiles
    with_deps: bool = True  # --no-deps turns it off
    detach: bool = False
    # Detached, or handed to a running supervisor; None: derived from the plan's depth (app.up.wait_timeout_for).
    wait_timeout: float | None = None
    abort_on_exit: bool = False
    exit_code_from: str | None = None  # implies abort_on_exit
    stop_timeout: float | None = None
    # `start`: only hand agents to a running supervisor; never start one.
    require_running: bool = False
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    install: InstallOptions = field(default_factory=InstallOptions)
    console: ConsoleSink | None = None  # foreground output; None: log files only
    notify: Notify = ignore
    watch: bool = False  # --watch: restart agents when their files change (runtime.watch)
    standby: Standby | None = None  # detached: the supervisor started ahead of the plan (app.detach)
    # `run AGENT`: bring up only this agent's dependencies, and wait until each
    # of its `depends_on` conditions holds (a one-shot's: completed).
    dependencies_of: str | None = None
    # --scale AGENT=N: replicas to run instead of the file's count.
    scale: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StartOptions:
    names: tuple[str, ...] = ()  # empty: every agent
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    install: InstallOptions = field(default_factory=InstallOptions)
    notify: Notify = ignore


# -- looking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigOptions:
    quiet: bool = False  # validate only
    services: bool = False  # only the agent names in start order


@dataclass(frozen=True)
class GraphOptions:
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvOptions:
    names: tuple[str, ...] = ()
    # None: only look; set: settle missing packages as these say (never asks).
    install: InstallOptions | None = None
