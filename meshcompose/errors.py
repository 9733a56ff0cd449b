"""Every user-facing failure, each carrying the facts needed to explain it.

The CLI is the only place that catches `MeshComposeError`; it prints
`message` and `hint` and exits with `exit_code`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Exit codes, documented in docs/commands.md.
EXIT_OK = 0
EXIT_FAILURE = 1  # an agent failed, or a runtime error
EXIT_USAGE = 2  # bad command line (argparse's own code)
EXIT_CONFIG = 3  # the project file is invalid
EXIT_ENVIRONMENT = 4  # interpreter or packages unusable
EXIT_NOT_RUNNING = 5  # the command needs a running project
EXIT_INTERRUPTED = 130


class MeshComposeError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(MeshComposeError):
    """A command-line value argparse cannot check itself (e.g. `ps --filter`)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a project file: `FILE:LINE:COL: key.path: message`."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        parts = [part for part in (where, self.path, self.message) if part]
        return ": ".join(parts)


class ConfigError(MeshComposeError):
    """The project file(s) cannot be turned into a project."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: Sequence[Problem] | str, hint: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("", 0, 0, "", problems)]
        self.problems = sorted(problems)
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        body = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{head} in the project:\n{body}" if count > 1 else body, hint)


class ProjectNotFoundError(ConfigError):
    def __init__(self, start: str) -> None:
        super().__init__(
            f"no mesh-compose.yaml found in {start} or any parent directory",
            hint="create one, or pass -f FILE (a mesh-compose.yaml, a single-agent YAML, or an agent.py)",
        )


class UnknownDependencyError(ConfigError):
    pass


class CycleError(ConfigError):
    """Every dependency cycle; `cycle` is the first."""

    def __init__(self, cycles: Sequence[Sequence[str]]) -> None:
        self.cycles = [list(cycle) for cycle in cycles]
        self.cycle = self.cycles[0]
        super().__init__([Problem("", 0, 0, "", cycle_message(cycle)) for cycle in self.cycles],
                         hint="remove one depends_on entry of each cycle")


def cycle_message(cycle: Sequence[str]) -> str:
    """`dependency cycle: a -> b -> a`, read in depends_on direction."""
    return "dependency cycle: " + " -> ".join([*cycle, cycle[0]])


class UnknownAgentError(ConfigError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        from difflib import get_close_matches

        close = get_close_matches(name, list(known), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"agents: {', '.join(known) or '(none)'}"
        super().__init__(f"no agent named '{name}' in the project", hint=hint)


class EnvironmentProblem(MeshComposeError):
    """Base for interpreter and package problems."""

    exit_code = EXIT_ENVIRONMENT


class InterpreterNotFoundError(EnvironmentProblem):
    def __init__(self, spec: str, source: str, looked: Sequence[str] = (), hint: str | None = None) -> None:
        self.spec, self.source, self.looked = spec, source, list(looked)
        where = f" (looked in: {', '.join(self.looked)})" if self.looked else ""
        super().__init__(f"Python interpreter {spec!r} from {source} not found{where}", hint=hint)


def _who_requires(agents: Sequence[str]) -> str:
    return f"agent {agents[0]} requires" if len(agents) == 1 else f"agents {', '.join(agents)} require"


class InterpreterVersionError(EnvironmentProblem):
    def __init__(self, interpreter: str, version: str, source: str, requires: str, agents: Sequence[str]) -> None:
        self.interpreter, self.version, self.source, self.requires = interpreter, version, source, requires
        self.agents = list(agents)
        super().__init__(
            f"{interpreter} is Python {version} (found via {source}), but {_who_requires(self.agents)} "
            f"Python {requires}",
            hint="set `interpreter:` for these agents, or create a .venv with a suitable Python",
        )


class InterpreterProbeError(EnvironmentProblem):
    def __init__(self, interpreter: str, detail: str) -> None:
        self.interpreter = interpreter
        super().__init__(f"could not run {interpreter}: {detail}")


class MissingPackagesError(EnvironmentProblem):
    def __init__(self, interpreter: str, missing: Sequence[str], agents: Sequence[str], fix: str) -> None:
        self.interpreter, self.missing, self.agents, self.fix = interpreter, list(missing), list(agents), fix
        super().__init__(
            f"{interpreter} lacks {', '.join(self.missing)} (needed by {', '.join(self.agents)})",
            hint=f"run `{fix}`, or pass --install (or --no-install to continue without)",
        )


class InstallError(EnvironmentProblem):
    def __init__(self, message: str, output: str = "", hint: str | None = None) -> None:
        self.output = output
        super().__init__(message, hint=hint)


class ExternallyManagedError(InstallError):
    """The target is a system Python that refuses installs (PEP 668); a venv is the way out."""


class AgentStartError(MeshComposeError):
    """An agent cannot be started at all (missing script, unusable working_dir)."""


class ProcessError(MeshComposeError):
    """The process layer was asked for something it cannot do (an unknown
    signal, e.g. from a hand-edited state file)."""


class AlreadyRunningError(MeshComposeError):
    def __init__(self, project: str, pid: int) -> None:
        self.pid = pid
        super().__init__(
            f"project '{project}' is already running (supervisor pid {pid}) — use `mesh-compose ps`"
        )


class NotRunningError(MeshComposeError):
    exit_code = EXIT_NOT_RUNNING

    def __init__(self, project: str, hint: str | None = "start it with `mesh-compose up -d`") -> None:
        super().__init__(f"project '{project}' is not running", hint=hint)


class ControlError(MeshComposeError):
    """The running supervisor could not be reached or refused a request."""


class RegistryError(MeshComposeError):
    """The MCP Mesh registry is unreachable and cannot be started."""
