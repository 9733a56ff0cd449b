"""Looking at a project without running it: `config`, `graph`, `env`, `schema`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshcompose.app.live import known_names
from meshcompose.app.options import ConfigOptions, EnvOptions, GraphOptions
from meshcompose.errors import InterpreterVersionError
from meshcompose.model import Project
from meshcompose.plan import planner

if TYPE_CHECKING:
    from meshcompose.pyenv.resolve import ResolvedPython

# -- config --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigResult:
    document: dict[str, Any] | None = None  # the merged, normalized project (not for -q or --services)
    start_order: tuple[str, ...] = ()  # with --services: agent names, dependencies first
    warnings: tuple[str, ...] = ()  # valid, but it will not run as meant (a script shadowing a module)


def config(project: Project, options: ConfigOptions) -> ConfigResult:
    """Validates (cycles and unknown dependencies too), then what was asked for."""
    planner.check(project)
    warnings = shadowing_warnings(project)
    if options.quiet:
        return ConfigResult(warnings=warnings)
    if options.services:
        return ConfigResult(start_order=tuple(name for wave in planner.start_order(project) for name in wave),
                            warnings=warnings)
    from meshcompose.config.serialize import project_to_dict

    return ConfigResult(document=project_to_dict(project), warnings=warnings)


def shadowing_warnings(project: Project) -> tuple[str, ...]:
    """Scripts named like a module their agent's interpreter imports, where the
    interpreters can be found (a missing one is `up`'s and `env`'s to report)."""
    from meshcompose.errors import MeshComposeError
    from meshcompose.model import RunKind
    from meshcompose.pyenv import resolve, shadowing

    scripts = [name for name, agent in project.agents.items() if agent.run is RunKind.SCRIPT]
    if not scripts:
        return ()
    try:
        resolved = resolve.resolve_project(project, scripts, verify_versions=False)
    except MeshComposeError:
        return ()
    return tuple(shadowing.warnings([project.agents[name] for name in resolved], resolved))


def profiles(project: Project) -> tuple[str, ...]:
    """The profiles the agents name, sorted (load with `--profile '*'` to see every agent's)."""
    return tuple(sorted({profile for agent in project.agents.values() for profile in agent.profiles}))


# -- graph ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    dependency: str
    dependent: str
    condition: str
    required: bool

    @property
    def label(self) -> str:
        return self.condition if self.required else f"{self.condition}, required: false"


@dataclass(frozen=True)
class GraphView:
    """Agents in start waves and labelled edges (dependents in start order)."""

    project: str
    waves: tuple[tuple[str, ...], ...]
    edges: tuple[Edge, ...]

    @property
    def agents(self) -> list[str]:
        return [name for wave in self.waves for name in wave]

    def needs(self, agent: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.dependent == agent]


def graph(project: Project, options: GraphOptions) -> GraphView:
    planner.check(project)
    selected = planner.select(project, list(options.names))
    project, selected = _with_registry(project, selected)
    subgraph = planner.build_graph(project).subgraph(selected)
    waves = planner.start_order(project, selected)
    # Edges in the order the file lists them, so the output reads like the file.
    edges = [
        Edge(dep.name, name, dep.condition.value, dep.required)
        for wave in waves for name in wave
        for dep in project.agents[name].depends_on if subgraph.has_edge(dep.name, name)
    ]
    return GraphView(project.name, tuple(tuple(wave) for wave in waves), tuple(edges))


def _with_registry(project: Project, selected: list[str]) -> tuple[Project, list[str]]:
    """The project as `up` would run it when it starts its own registry: the
    `mesh-registry` node first, every agent depending on it being healthy.
    (Whether one already answers is not asked: `graph` stays offline.)"""
    from meshcompose.mesh import meshplan, registry

    if not project.registry.managed:
        return project, selected
    url = registry.resolve_url(project.registry, cli_url=None, cli_host=None, cli_port=None, environ={})
    mesh = meshplan.MeshPlan(url, needed=True, reused=False, managed=True)
    return meshplan.with_managed_registry(project, selected, mesh, which=lambda binary: binary)


# -- env ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvResult:
    rows: tuple[dict[str, Any], ...]  # per Python agent: interpreter, version, kind, rule, packages
    too_old: InterpreterVersionError | None = None  # an interpreter below `requires`: the rows say which
    # Where an agent has memory_limit or cpu_limit: what holds them here, the cgroup or the sampling.
    limits: str | None = None

    @property
    def missing(self) -> bool:
        return any(row["missing"] for row in self.rows)

    @property
    def unusable(self) -> bool:
        return any(row["unusable"] for row in self.rows)


def env(project: Project, options: EnvOptions) -> EnvResult:
    """Each Python agent's interpreter; with `install`, missing packages settled first."""
    # Here, not at the top: `config` and `graph` need neither (pyenv and packaging: ~60 ms).
    from meshcompose.app.environments import ensure_environments
    from meshcompose.pyenv import resolve

    names = known_names(options.names, project.agents) or None
    if options.install is not None:
        resolved = ensure_environments(project, names, options.install)
    else:
        # Shown even when an interpreter is too old: the table says which and why.
        resolved = resolve.resolve_project(project, names, verify_versions=False)
    rows = tuple(_env_row(name, python) for name, python in resolved.items())
    limits = _limits(project, names)
    try:
        resolve.check_versions(resolved)
    except InterpreterVersionError as error:
        return EnvResult(rows, too_old=error, limits=limits)
    return EnvResult(rows, limits=limits)


def _limits(project: Project, names: Sequence[str] | None) -> str | None:
    chosen = [project.agents[name] for name in names or project.agents]
    if not any(agent.resources.memory_limit or agent.resources.cpu_limit for agent in chosen):
        return None
    from meshcompose.runtime.resources import limits_summary

    return limits_summary()


def _env_row(name: str, python: ResolvedPython) -> dict[str, Any]:
    from meshcompose.pyenv.checks import version_ok

    usable = version_ok(python.version_text, python.requires)
    return {
        "unusable": None if usable else f"Python {python.version_text} does not satisfy requires {python.requires}",
        "agent": name, "interpreter": python.executable, "version": python.version_text,
        "implementation": python.implementation, "venv": python.is_venv, "found_via": python.source,
        "requires": python.requires, "installed": dict(python.installed), "missing": list(python.missing),
        "shared_with": [other for other in python.agents if other != name],
    }


# -- schema ---------------------------------------------------------------------------


def schema() -> str:
    """The JSON Schema of mesh-compose.yaml, as published."""
    from meshcompose.config.validate import schema_text

    text = schema_text()
    return text if text.endswith("\n") else text + "\n"
