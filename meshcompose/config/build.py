"""The merged, schema-valid document turned into the frozen model.

Checks the schema cannot express live here (exactly one run kind after the
merge, durations and sizes, PEP 440/508 strings, references between agents,
profiles, env files), each reported as a located problem; all of them are
raised together.
"""

from __future__ import annotations

import difflib
import os
import re
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

from meshcompose import ownership, units
from meshcompose.config import envfile
from meshcompose.config.discovery import absolute_path
from meshcompose.config.forms import name_from
from meshcompose.config.interpolate import ExpansionBudget, own_variables
from meshcompose.config.limits import InputError, file_kind_problem, path_problem, regex_nesting_problem
from meshcompose.config.problems import Located
from meshcompose.config.yamlload import Loaded, Path_, dotted
from meshcompose.errors import ConfigError, Problem, cycle_message
from meshcompose.model import (
    Agent,
    Backoff,
    Condition,
    DependsOn,
    Healthcheck,
    HealthKind,
    Metadata,
    Project,
    PythonRequirements,
    Registry,
    Resources,
    RestartMode,
    RestartPolicy,
    RunKind,
    Tracing,
    WatchAction,
    WatchRule,
)
from meshcompose.names import PROJECT_NAME_RULE, REPLICA_VARIABLE, shown, valid_project_name

# plan.planner.find_cycles: depends_on names per agent (file order) -> every cycle
FindCycles = Callable[[Mapping[str, Sequence[str]]], "list[list[str]]"]


def build_project(
    loaded: Loaded, *, files: tuple[Path, ...], directory: Path, project_name: str | None,
    profiles: tuple[str, ...], variables: Mapping[str, str], unset: list[str] | None = None,
    find_cycles: FindCycles | None = None,
    budget: ExpansionBudget | None = None,
) -> Project:
    data: dict[str, Any] = loaded.data
    located = Located(loaded)
    name = _project_name(located, data, directory, project_name)
    raw_python = data.get("python") or {}
    python = located.requirements(("python",), raw_python, PythonRequirements())
    raw_agents: dict[str, Any] = data.get("agents") or {}
    if not raw_agents and not loaded.broken:
        located.add(("agents",), "no agents defined; add at least one under `agents:`")
    enabled = {n for n, a in raw_agents.items() if _enabled(a, profiles)}
    known = {**{name: {} for name in loaded.broken if name}, **raw_agents}
    context = BuildContext(directory, variables, python, known, enabled | loaded.broken, unset, budget)
    builder = AgentBuilder(located, context)
    agents = {n: builder.build(n, a) for n, a in raw_agents.items() if n in enabled}
    _check_cycles(located, agents, find_cycles)
    registry = _registry(located, data.get("registry") or {})
    tracing = _tracing(located, data.get("tracing"))
    interpreter = located.interpreter(("python", "interpreter"), raw_python.get("interpreter"), directory)
    if located.problems:
        raise ConfigError(located.problems)
    return Project(
        name=name, directory=directory, files=files, agents=agents, python=python,
        interpreter=interpreter, registry=registry, profiles=profiles, tracing=tracing,
    )


class BuildContext:
    """What every agent is built against."""

    def __init__(self, directory: Path, variables: Mapping[str, str], python: PythonRequirements,
                 raw_agents: Mapping[str, Any], enabled: set[str], unset: list[str] | None = None,
                 budget: ExpansionBudget | None = None) -> None:
        self.unset = unset  # names an env_file interpolated that are set nowhere
        self.budget = budget or ExpansionBudget()  # env files read count against the load's
        self.suggested = 0
        self.directory = directory
        self.variables = variables
        self.python = python
        self.raw_agents = raw_agents
        self.enabled = enabled

    def path(self, text: str) -> Path:
        """Absolute, relative to the project directory, `~` expanded; symlinks kept."""
        return absolute_path(self.directory, text)

    def read_env_file(self, located: Located, path: Path_, text: str) -> dict[str, str]:
        file = self.path(text)
        if self.budget.exhausted:  # said once, at the file that ran out
            return {}
        problem = file_kind_problem(file)  # looked at before its owner is: a device or a FIFO is never opened
        if problem and problem != "no such file":  # a missing one is said by the read, as before
            located.add(path, f"cannot read env_file {str(file)!r}: {problem}")
            return {}
        ownership.check_trusted(file, "the env_file")
        try:
            return envfile.read_env_file(file, self.variables, self.unset, self.budget)
        except envfile.EnvFileError as error:
            located.problems.append(Problem(str(file), error.line, 1, "", error.message))
        except InputError as error:
            located.add(path, f"cannot read env_file {str(file)!r}: {error}")
        except OSError as error:
            located.add(path, f"cannot read env_file {str(file)!r}: {error.strerror or error}")
        return {}

    def profiles_of(self, name: str) -> Sequence[str]:
        return tuple((self.raw_agents.get(name) or {}).get("profiles") or ())

    def suggestion(self, name: str) -> str:
        """A close name, or the few names there are. Each guess compares against every agent:
        only the first few unknown names get one, so thousands of them stay linear."""
        self.suggested += 1
        if self.suggested <= _GUESSES:
            close = difflib.get_close_matches(name, list(self.raw_agents), n=1)
            if close:
                return f"; did you mean '{close[0]}'?"
        if len(self.raw_agents) <= _LISTED:
            return f"; agents: {', '.join(self.raw_agents) or '(none)'}"
        return f"; the project has {len(self.raw_agents):,} agents"


_GUESSES = 20  # unknown names that get a did-you-mean
MAX_REPLICAS = 1000  # processes of one agent: far above any laptop's, far below a typo's
_LISTED = 20  # agents named in full when a name is unknown


def _enabled(agent: Mapping[str, Any], active: Sequence[str]) -> bool:
    wanted = agent.get("profiles") or ()
    return not wanted or "*" in active or any(p in active for p in wanted)  # `--profile '*'`: all, as compose


def _project_name(located: Located, data: Mapping[str, Any], directory: Path, override: str | None) -> str:
    if override is not None:
        if not valid_project_name(override):
            located.problems.append(Problem("-p/--project-name", 0, 0, "", f"invalid project name {shown(override)}: "
                                            f"{PROJECT_NAME_RULE}"))
        return override
    return data.get("name") or name_from(directory.name.lower(), "project")


def _check_cycles(located: Located, agents: Mapping[str, Agent], find_cycles: FindCycles | None) -> None:
    """Every depends_on cycle, each located at the entry that closes it. The
    planner finds them (`plan.planner.find_cycles`, handed in by the caller:
    config/ sits below plan/); without it, the planner's own check reports
    them later, unlocated."""
    if find_cycles is None:
        return
    for cycle in find_cycles({name: [d.name for d in agent.depends_on] for name, agent in agents.items()}):
        located.add(("agents", cycle[-1], "depends_on", cycle[0]), cycle_message(cycle))


def _registry(located: Located, raw: Mapping[str, Any]) -> Registry:
    if raw.get("url") and (raw.get("host") or raw.get("port") is not None):
        located.add(("registry", "url"), "use either url or host/port, not both")
    url = raw.get("url")
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        located.add(("registry", "url"), f"not an http(s) URL: {url!r}")
    port = located.integer(("registry", "port"), raw.get("port"), None, 1, 65535)
    command = raw.get("command")
    argv: tuple[str, ...] = ("auto",) if command == "auto" else tuple(str(a) for a in command or ())
    return Registry(url=url, host=raw.get("host"), port=port, command=argv)



def _tracing(located: Located, raw: bool | Mapping[str, Any] | None) -> Tracing:
    if not isinstance(raw, Mapping):
        return Tracing(enabled=bool(raw))
    url = raw.get("redis")
    if not isinstance(url, str) or not re.match(r"^rediss?://[^\s]+$", url):
        located.add(("tracing", "redis"), f"not a redis:// URL: {url!r}")
    return Tracing(enabled=True, redis=url)


# -- one agent ------------------------------------------------------------------

RUN_KINDS = ("script", "module", "command")
HEALTH_KINDS = ("http", "tcp", "cmd", "log", "registry")
WIRED = "wired"  # healthcheck.registry: registered, and every dependency resolved
_PORTABLE_SIGNALS = {"SIGTERM", "SIGINT", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGBREAK"}


SDK_PORT = "MCP_MESH_HTTP_PORT"


def health_variables(check: Healthcheck) -> list[str]:
    """The agent's variables a healthcheck names as `${NAME}`: filled in
    per replica (`plan.replicas`), so each is probed on its own port. A log
    healthcheck's regex is left as written."""
    if check.kind is HealthKind.LOG:
        return []
    return [name for text in (check.target, *check.command) for name in own_variables(text)]


def shared_ports(agent: Agent, count: int) -> list[tuple[Path_, str]]:
    """Where `count` replicas of `agent` would share a port someone fixed,
    and why that cannot work: they would fight for it, or all be probed on
    the first one's (a dead replica would look healthy)."""
    if count < 2:
        return []
    found: list[tuple[Path_, str]] = []
    port = agent.environment.get(SDK_PORT, "").strip()
    if port.isdigit() and int(port) != 0 and SDK_PORT not in agent.increment_vars:
        found.append((("environment", SDK_PORT), f"the {count} replicas would all listen on port {port}; add "
                      f"`increment_var: {SDK_PORT}` to give each its own, or leave it unset (each replica of an "
                      "MCP Mesh agent then gets a free port)"))
    check = agent.healthcheck
    if check is not None and check.kind in (HealthKind.HTTP, HealthKind.TCP) and not health_variables(check):
        found.append((("healthcheck", check.kind.value), f"the {count} replicas would all be probed at "
                      f"{check.target}; give each its own port with increment_var and write it here as $${{NAME}} "
                      "(docs/replicas.md)"))
    return found


def argv(raw: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in raw or ())


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stop_signal_name(raw: str) -> str:
    """`term`, `TERM`, `SIGTERM` -> `SIGTERM`; ValueError for unknown signals."""
    name = raw.strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if name not in {s.name for s in signal.Signals} | _PORTABLE_SIGNALS:
        raise ValueError(f"unknown signal {raw!r} (e.g. SIGTERM, SIGINT, SIGHUP)")
    return name


def cpu_count(raw: Any) -> float:
    value = float(str(raw).strip())
    if value <= 0:
        raise ValueError(f"cpu_limit must be greater than 0 (got {raw!r})")
    return value


class AgentBuilder:
    def __init__(self, located: Located, context: BuildContext) -> None:
        self.located = located
        self.context = context

    def build(self, name: str, raw: Mapping[str, Any]) -> Agent:
        agent = self._build(name, raw)
        self._check_replica_ports(("agents", name), agent)
        return agent

    def _build(self, name: str, raw: Mapping[str, Any]) -> Agent:
        base: Path_ = ("agents", name)
        run, target, command = self._run(base, raw)
        environment, external_env = self._environment(base, raw)
        return Agent(
            name=name, run=run, target=target, command=command, args=argv(raw.get("args")),
            working_dir=self._working_dir(base, raw),
            interpreter=self.located.interpreter(base + ("interpreter",), raw.get("interpreter"),
                                                 self.context.directory),
            python=self._python(base, raw),
            environment=environment,
            depends_on=self._depends_on(base, name, raw.get("depends_on") or {}),
            healthcheck=self._healthcheck(base + ("healthcheck",), raw.get("healthcheck")),
            restart=self._restart(base, raw),
            stop_signal=self.located.convert(base + ("stop_signal",), raw.get("stop_signal"), units.parse_signal,
                                             "SIGTERM"),
            stop_grace_period=self.located.duration(base + ("stop_grace_period",), raw.get("stop_grace_period"), 10.0),
            resources=self._resources(base + ("resources",), raw.get("resources") or {}),
            metadata=self._metadata(raw.get("metadata") or {}),
            log_level=str(raw["log_level"]).upper() if raw.get("log_level") else None,
            profiles=tuple(raw.get("profiles") or ()),
            watch=self._watch(base + ("develop", "watch"), (raw.get("develop") or {}).get("watch") or []),
            extensions={key: value for key, value in raw.items() if str(key).startswith("x-")},
            external=frozenset(self._interpolated(base) | {f"environment.{key}" for key in external_env}),
            replicas=self._replicas(base, raw),
            increment_vars=self._increments(base, raw, environment),
        )

    def _replicas(self, base: Path_, raw: Mapping[str, Any]) -> int:
        """`replicas`, or compose's `deploy.replicas` (one of them: two counts
        that could disagree are refused); 1 without either."""
        deploy = raw.get("deploy") or {}
        if "replicas" in raw and "replicas" in deploy:
            self.located.add(base + ("deploy", "replicas"), "replicas is set twice (also as the agent's "
                                                             "replicas); keep one")
        path, value = ((base + ("replicas",), raw["replicas"]) if "replicas" in raw
                       else (base + ("deploy", "replicas"), deploy.get("replicas")))
        if value is None:
            return 1
        count = self.located.integer(path, value, 1, 0, MAX_REPLICAS)
        return 1 if count is None else count

    def _increments(self, base: Path_, raw: Mapping[str, Any], environment: Mapping[str, str]) -> tuple[str, ...]:
        """increment_var: each a variable of the agent's environment holding a whole number."""
        given = raw.get("increment_var") or ()
        names = (given,) if isinstance(given, str) else tuple(str(name) for name in given)
        for name in names:
            value = environment.get(name)
            if value is None or not re.fullmatch(r"\s*\d+\s*", value):
                found = "is not set" if value is None else f"is {value!r}"
                self.located.add(base + ("increment_var",), f"increment_var {name}: the agent's environment "
                                 f"must give it a whole number to start from (it {found})")
        return names

    def _check_replica_ports(self, base: Path_, agent: Agent) -> None:
        """A healthcheck's `${NAME}` must be a variable the agent has; and
        replicas must not share a port (`shared_ports`)."""
        check = agent.healthcheck
        if check is not None:
            known = {*agent.environment, REPLICA_VARIABLE}
            for variable in health_variables(check):
                if variable not in known:
                    self.located.add(base + ("healthcheck",), f"the healthcheck refers to ${{{variable}}}, which "
                                     "the agent's environment does not set")
        for where, message in shared_ports(agent, agent.replicas):
            self.located.add(base + where, message)

    def _interpolated(self, base: Path_) -> set[str]:
        """Settings (other than environment, see _environment) holding interpolated variables."""
        size = len(base)
        return {dotted(path[size:]) for path in self.located.interpolated
                if path[:size] == base and path[size:size + 1] != ("environment",)}

    def _python(self, base: Path_, raw: Mapping[str, Any]) -> PythonRequirements:
        """The agent's own needs plus the project's packages, which every agent must have too."""
        project = self.context.python
        own = self.located.requirements(base + ("python",), raw.get("python") or {},
                                        PythonRequirements(requires=project.requires))
        packages = tuple(dict.fromkeys((*project.packages, *own.packages)))
        return PythonRequirements(requires=own.requires, packages=packages)

    def _run(self, base: Path_, raw: Mapping[str, Any]) -> tuple[RunKind, str, tuple[str, ...]]:
        present = [kind for kind in RUN_KINDS if kind in raw]
        if len(present) != 1:
            which = "none" if not present else ", ".join(present)
            self.located.add(base, f"an agent needs exactly one of script, module or command (has: {which})")
            return RunKind.COMMAND, "", ("false",)
        kind = present[0]
        if kind == "script":
            script = self.context.path(raw["script"])
            self.located.existing(base + ("script",), script, "file")
            return RunKind.SCRIPT, str(script), ()
        if kind == "module":
            return RunKind.MODULE, raw["module"], ()
        return RunKind.COMMAND, "", argv(raw["command"])

    def _working_dir(self, base: Path_, raw: Mapping[str, Any]) -> Path:
        if not raw.get("working_dir"):
            return self.context.directory
        directory = self.context.path(raw["working_dir"])
        self.located.existing(base + ("working_dir",), directory, "directory")
        return directory

    def _environment(self, base: Path_, raw: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
        """The final environment, and the keys whose value came from outside the
        project files: an env_file, a bare KEY, or an interpolated variable."""
        result: dict[str, str] = {}
        external: set[str] = set()
        for index, text in enumerate(raw.get("env_file") or ()):
            values = self.context.read_env_file(self.located, base + ("env_file", index), text)
            result.update(values)
            external.update(values)
        for key, value in (raw.get("environment") or {}).items():
            mark = self.located.marks.get(base + ("environment", key))
            if value is None:
                if key in self.context.variables:
                    result[key] = self.context.variables[key]
                else:
                    result.pop(key, None)
            else:
                result[key] = env_value(value)
            if value is None or (mark is not None and mark.variables):
                external.add(key)
            else:
                external.discard(key)
        return result, {key for key in external if key in result}

    def _depends_on(self, base: Path_, name: str, raw: Mapping[str, Any]) -> tuple[DependsOn, ...]:
        found = []
        for other, spec in raw.items():
            path = base + ("depends_on", other)
            spec = spec or {}
            required = spec.get("required", True)
            if other not in self.context.raw_agents:
                self.located.add(path, f"unknown agent '{other}' in depends_on{self.context.suggestion(other)}")
                continue
            if other not in self.context.enabled:
                if required:
                    profiles = ", ".join(self.context.profiles_of(other))
                    self.located.add(path, f"'{name}' depends on '{other}', which is only enabled with "
                                           f"--profile {profiles}; enable that profile or set required: false")
                continue
            condition = Condition(spec.get("condition", "started"))
            found.append(DependsOn(other, condition, required, bool(spec.get("restart", False))))
        return tuple(found)

    def _watch(self, path: Path_, raw: Sequence[Mapping[str, Any]]) -> tuple[WatchRule, ...]:
        """develop.watch: paths relative to the project directory; one that
        does not exist is accepted while its directory does (a requirements
        file added later), since watching starts from what exists."""
        rules = []
        for index, entry in enumerate(raw):
            watched = self.context.path(entry["path"])
            problem = path_problem(watched)
            if problem:
                self.located.add(path + (index, "path"), problem)
                continue
            if not os.path.lexists(watched) and not os.path.isdir(watched.parent):
                self.located.add(path + (index, "path"), f"no such file or directory: {str(watched)!r}")
                continue
            action = WatchAction(entry.get("action", WatchAction.RESTART.value))
            ignore: tuple[str, ...] = tuple(str(glob) for glob in entry.get("ignore") or ())
            rules.append(WatchRule(watched, action, ignore))
        return tuple(rules)

    def _healthcheck(self, path: Path_, raw: Mapping[str, Any] | None) -> Healthcheck | None:
        if raw is None:
            return None
        present = [kind for kind in HEALTH_KINDS if kind in raw]
        if len(present) != 1:
            which = "none" if not present else ", ".join(present)
            self.located.add(path, f"a healthcheck needs exactly one of {', '.join(HEALTH_KINDS)} (has: {which})")
            return None
        kind = HealthKind(present[0])
        value = raw[present[0]]
        target, command = "", argv(value) if kind is HealthKind.CMD else ()
        if kind not in (HealthKind.CMD, HealthKind.REGISTRY):
            target = self._health_target(path + (present[0],), kind, value)
        if kind is HealthKind.REGISTRY and value == WIRED:
            target = WIRED
        located = self.located
        return Healthcheck(
            kind=kind, target=target, command=command,
            interval=located.duration(path + ("interval",), raw.get("interval"), 2.0),
            timeout=located.duration(path + ("timeout",), raw.get("timeout"), 5.0),
            retries=located.integer(path + ("retries",), raw.get("retries"), 3) or 0,
            start_period=located.duration(path + ("start_period",), raw.get("start_period"), 0.0),
        )

    def _health_target(self, path: Path_, kind: HealthKind, value: str) -> str:
        if kind is HealthKind.HTTP and not re.match(r"^https?://[^/\s]+", value):
            self.located.add(path, f"not an http(s) URL: {value!r}")
        if kind is HealthKind.TCP:
            host, _, port = value.rpartition(":")
            if port.startswith("${") and own_variables(port):
                port = "1"  # the replica's own port, known when it starts
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                self.located.add(path, f"expected host:port, such as 127.0.0.1:8080 (got {value!r})")
        if kind is HealthKind.LOG:
            too_deep = regex_nesting_problem(value)
            if too_deep:
                self.located.add(path, f"the regular expression is {too_deep}")
                return value
            try:
                re.compile(value)
            except re.error as error:
                self.located.add(path, f"not a valid regular expression: {error}")
        return value

    def _restart(self, base: Path_, raw: Mapping[str, Any]) -> RestartPolicy:
        mode = raw.get("restart")
        backoff = raw.get("backoff") or {}
        initial = self.located.duration(base + ("backoff", "initial"), backoff.get("initial"), 1.0)
        maximum = self.located.duration(base + ("backoff", "maximum"), backoff.get("maximum"), max(30.0, initial))
        if maximum < initial:
            self.located.add(base + ("backoff", "maximum"), f"maximum ({maximum:g}s) is below initial ({initial:g}s)")
        return RestartPolicy(
            mode=RestartMode.NO if mode in (None, False) else RestartMode(mode),
            max_restarts=self.located.integer(base + ("max_restarts",), raw.get("max_restarts"), None),
            backoff=Backoff(initial=initial, maximum=maximum),
        )

    def _resources(self, path: Path_, raw: Mapping[str, Any]) -> Resources:
        located = self.located
        return Resources(
            timeout=located.quantity(path + ("timeout",), raw.get("timeout"), units.parse_duration, None, "a duration"),
            memory_limit=located.quantity(path + ("memory_limit",), raw.get("memory_limit"), units.parse_size, None,
                                          "a size"),
            cpu_limit=located.quantity(path + ("cpu_limit",), raw.get("cpu_limit"), cpu_count, None,
                                       "a number of CPUs"),
        )

    @staticmethod
    def _metadata(raw: Mapping[str, Any]) -> Metadata:
        version = raw.get("version")
        return Metadata(
            name=raw.get("name"), version=None if version is None else str(version),
            description=raw.get("description"), tags=tuple(raw.get("tags") or ()),
        )
