"""Which Python runs each agent: discovery, version and package checks.

Resolution, per agent, first match wins:
1. the agent's `interpreter`, else the project's `python.interpreter`
   (a path relative to the project directory, a venv directory, or a
   command name looked up on PATH);
2. `.venv`, then `venv`, in the directory of the agent's script and each
   parent below the project directory, then in its working_dir and each
   parent below the project directory, then in the project directory;
3. the active virtual environment (VIRTUAL_ENV), when it is a real venv;
4. the system Python: `py -3` (Windows only), `python3`, `python` on PATH,
   never the Microsoft Store stub.

Discovery never picks mesh-compose's own virtual environment (the one it
runs from): not as a `.venv` in the search, not as VIRTUAL_ENV, not as the
`python3` an activated environment puts first on PATH. It goes on to the
next rule and says what it skipped in the candidate's `source`. Named in
`interpreter:`, it is used, and the source says whose it is.

A venv found in rule 2 is the project's, so it must pass the ownership
rule (`meshcompose.ownership`): its directory, its `bin`, its `python` and
`pyvenv.cfg`. Rules 1, 3 and 4 are the caller's or the project file's own
choice, and are not checked.

Each distinct interpreter is probed once (concurrently, cached on disk, see
`pyenv_probe`). The platform is one seam, `Platform`, so Windows and macOS
layouts are testable on Linux.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from meshcompose import model, ownership
from meshcompose.config.memo import default_cache_dir
from meshcompose.errors import EXIT_ENVIRONMENT, InterpreterNotFoundError, InterpreterVersionError, UnknownAgentError
from meshcompose.pyenv.checks import requirement_names, requires_of, unmet, version_ok
from meshcompose.pyenv.probe import (
    ProbeFunction,
    ProbeResult,
    is_cacheable,
    load_cached,
    probe_interpreter,
    store_cached,
)


@dataclass(frozen=True)
class Platform:
    """The one seam for OS differences in discovery."""

    system: str  # "linux", "darwin" or "windows"

    @property
    def windows(self) -> bool:
        return self.system == "windows"

    @property
    def pathsep(self) -> str:
        return ";" if self.windows else ":"

    def venv_pythons(self, venv: Path) -> list[Path]:
        if self.windows:
            return [venv / "Scripts" / "python.exe"]
        return [venv / "bin" / "python", venv / "bin" / "python3"]

    def executable_names(self, name: str) -> list[str]:
        if self.windows and not name.lower().endswith(".exe"):
            return [name + ".exe", name]
        return [name]


def current_platform() -> Platform:
    if sys.platform == "win32":
        return Platform("windows")
    return Platform("darwin" if sys.platform == "darwin" else "linux")


PLATFORM = current_platform()


@dataclass(frozen=True)
class Candidate:
    """An interpreter found by one rule, not yet probed."""

    argv: tuple[str, ...]  # ("/x/.venv/bin/python",) or ("C:/Windows/py.exe", "-3")
    source: str  # which rule found it, for messages


@dataclass(frozen=True)
class ResolvedPython:
    """The interpreter one agent runs with, and what it lacks."""

    executable: str  # the path to run
    version: tuple[int, ...]
    version_text: str
    implementation: str
    is_venv: bool
    prefix: str
    base_prefix: str
    source: str
    installed: Mapping[str, str] = field(default_factory=dict)  # normalized name -> version
    missing: tuple[str, ...] = ()  # requirement strings not satisfied
    agents: tuple[str, ...] = ()  # every agent sharing this interpreter
    requires: str = ""
    shadowed_module: str = ""  # the module the agent's script is named like, when this interpreter imports it

    @property
    def kind(self) -> str:
        return "venv" if self.is_venv else "system"


@dataclass(frozen=True)
class Environment:
    """One interpreter and everything the agents sharing it need."""

    executable: str
    version_text: str
    is_venv: bool
    source: str
    prefix: str
    agents: tuple[str, ...]
    missing: tuple[str, ...]  # union over the agents, in first-seen order
    missing_by_agent: Mapping[str, tuple[str, ...]]

    @property
    def kind(self) -> str:
        return "venv" if self.is_venv else "system"

    @property
    def affected_agents(self) -> tuple[str, ...]:
        return tuple(name for name in self.agents if self.missing_by_agent.get(name))


# --- discovery ---------------------------------------------------------------


def find_on_path(name: str, environ: Mapping[str, str], platform: Platform = PLATFORM,
                 skip: Sequence[str] = ()) -> str | None:
    """Like shutil.which, but with the seam's layout and never the WindowsApps stub; directories
    under a prefix in `skip` (mesh-compose's own environment) are passed over. The comparison is
    on the path as written, as an activation writes it: no lookup per PATH entry."""
    for directory in environ.get("PATH", "").split(platform.pathsep):
        if not directory or "windowsapps" in directory.lower().replace("\\", "/").split("/"):
            continue
        if skip and _under(os.path.abspath(directory), skip):
            continue
        for leaf in platform.executable_names(name):
            path = os.path.join(directory, leaf)
            if os.path.isfile(path) and (platform.windows or os.access(path, os.X_OK)):
                return path
    return None


@functools.lru_cache(maxsize=1)
def own_environment() -> str | None:
    """The virtual environment mesh-compose runs from (its real path), or None when it runs from
    a system Python: an agent gets it only when the project file names it. Found once: it is
    this process's own, and discovery asks for every agent."""
    if sys.prefix == getattr(sys, "base_prefix", sys.prefix):
        return None
    return os.path.realpath(sys.prefix)


@functools.lru_cache(maxsize=4)
def _skip_prefixes(own: str) -> tuple[str, ...]:
    """`own`, and sys.prefix as written when that is `own` too: an activation puts it on PATH so."""
    lexical = os.path.abspath(sys.prefix)
    return (own, lexical) if _inside(lexical, own) else (own,)


def _inside(path: str | Path, prefix: str) -> bool:
    return _under(os.path.realpath(path), (prefix,))


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep) for prefix in prefixes)


def venv_python(venv: Path, platform: Platform = PLATFORM) -> Path | None:
    for path in platform.venv_pythons(venv):
        if path.is_file():
            return path
    return None


def _looks_like_path(spec: str) -> bool:
    return any(sep in spec for sep in ("/", "\\")) or spec.startswith((".", "~"))


def _from_spec(spec: str, source: str, project_dir: Path, environ: Mapping[str, str],
               platform: Platform) -> Candidate:
    path = Path(os.path.expanduser(spec))
    path = path if path.is_absolute() else project_dir / path
    if path.is_dir():
        found = venv_python(path, platform)
        if found is None:
            looked = [str(p) for p in platform.venv_pythons(path)]
            raise InterpreterNotFoundError(spec, source, looked, hint="is it a virtual environment?")
        return Candidate((os.path.abspath(found),), source)
    if path.is_file():
        return Candidate((os.path.abspath(path),), source)
    if not _looks_like_path(spec):
        on_path = find_on_path(spec, environ, platform)
        if on_path:
            return Candidate((os.path.abspath(on_path),), source)
    raise InterpreterNotFoundError(spec, source, [str(path), "PATH"],
                                   hint="give a path (relative to the project directory), a venv, or a command on PATH")


def _chain(start: Path, stop: Path) -> list[Path]:
    """`start` and its parents below `stop` (just `start` when it is not below `stop`)."""
    if stop not in start.parents:
        return [start] if start != stop else []
    dirs = [start]
    while dirs[-1].parent != stop:
        dirs.append(dirs[-1].parent)
    return dirs


def search_dirs(agent: model.Agent, project_dir: Path) -> list[Path]:
    """Where rule 2 looks, nearest first: the script's directory and its parents below the project
    directory, then the working_dir's, then the project directory itself."""
    stop = Path(os.path.abspath(project_dir))
    starts = [Path(os.path.abspath(agent.working_dir))]
    if agent.run is model.RunKind.SCRIPT and agent.target:
        starts.insert(0, Path(os.path.abspath(agent.target)).parent)
    dirs: list[Path] = []
    for directory in [*_chain(starts[0], stop), *(_chain(starts[1], stop) if len(starts) > 1 else []), stop]:
        if directory not in dirs:
            dirs.append(directory)
    return dirs


class _Skipped:
    """What discovery passed over because it is mesh-compose's own environment, for the source."""

    def __init__(self, own: str | None) -> None:
        self.own = own
        self.prefixes: tuple[str, ...] = () if own is None else _skip_prefixes(own)
        self.notes: list[str] = []

    def is_own(self, path: str | Path) -> bool:
        if self.own is not None and _inside(path, self.own):
            self.note()
            return True
        return False

    def note(self) -> None:
        if not self.notes:
            self.notes.append(f"skipped mesh-compose's own environment {self.own}")

    def said(self, candidate: Candidate) -> Candidate:
        if not self.notes:
            return candidate
        return Candidate(candidate.argv, f"{candidate.source} ({'; '.join(self.notes)})")


def _trusted_venv(venv: Path, python: Path) -> None:
    """A venv discovery found runs the project's agents: nobody else may have written it."""
    cfg = venv / "pyvenv.cfg"
    for path in (venv, python.parent, python, cfg):
        ownership.check_trusted(path, "the virtual environment" if path == venv else "the interpreter",
                                exit_code=EXIT_ENVIRONMENT)


def _from_venv_dirs(agent: model.Agent, project_dir: Path, platform: Platform,
                    skipped: _Skipped) -> Candidate | None:
    for directory in search_dirs(agent, project_dir):
        for name in (".venv", "venv"):
            found = venv_python(directory / name, platform)
            if found is None or skipped.is_own(directory / name):
                continue
            _trusted_venv(directory / name, found)
            return Candidate((os.path.abspath(found),), f"{name} in {directory}")
    return None


def _from_active_venv(environ: Mapping[str, str], platform: Platform, skipped: _Skipped) -> Candidate | None:
    active = environ.get("VIRTUAL_ENV")
    if not active or not (Path(active) / "pyvenv.cfg").is_file() or skipped.is_own(active):
        return None
    found = venv_python(Path(active), platform)
    return Candidate((os.path.abspath(found),), "active venv (VIRTUAL_ENV)") if found else None


def _from_system(environ: Mapping[str, str], platform: Platform, skipped: _Skipped) -> Candidate | None:
    if platform.windows:
        launcher = find_on_path("py", environ, platform)
        if launcher:
            return Candidate((launcher, "-3"), "py -3 launcher")
    for name in ("python3", "python"):
        found = find_on_path(name, environ, platform, skip=skipped.prefixes)
        if skipped.prefixes and _passed_over(found, skipped.prefixes, environ, platform):
            skipped.note()  # an activated environment put its own python first on PATH
        if found:
            return Candidate((found,), f"system {name} on PATH")
    return None


def _passed_over(found: str | None, prefixes: Sequence[str], environ: Mapping[str, str], platform: Platform) -> bool:
    """Whether PATH lists a directory of `prefixes` before the one `found` came from."""
    where = os.path.dirname(found) if found else None
    for directory in environ.get("PATH", "").split(platform.pathsep):
        if directory and directory == where:
            return False
        if directory and _under(os.path.abspath(directory), prefixes):
            return True
    return False


def discover(agent: model.Agent, project: model.Project, *, environ: Mapping[str, str] | None = None,
             platform: Platform = PLATFORM, own: str | None = "") -> Candidate:
    """The interpreter candidate for one agent, by the first rule that matches. `own`: the
    environment discovery passes over (default: mesh-compose's own; None: none)."""
    env = os.environ if environ is None else environ
    skipped = _Skipped(own_environment() if own == "" else own)
    if agent.interpreter:
        spec = _from_spec(agent.interpreter, f"agent interpreter of '{agent.name}'", project.directory, env, platform)
        return _named(spec, skipped)
    if project.interpreter:
        return _named(_from_spec(project.interpreter, "project interpreter", project.directory, env, platform), skipped)
    found = (_from_venv_dirs(agent, project.directory, platform, skipped)
             or _from_active_venv(env, platform, skipped) or _from_system(env, platform, skipped))
    if found is None:
        names = "py, python3, python" if platform.windows else "python3, python"
        hint = "install Python 3, or set `interpreter:` in mesh-compose.yaml"
        if skipped.notes:
            hint += f" (mesh-compose's own environment {skipped.own} is used only when named there)"
        raise InterpreterNotFoundError(names, "PATH", [".venv", "venv", "VIRTUAL_ENV", "PATH"], hint=hint)
    return skipped.said(found)


def _named(candidate: Candidate, skipped: _Skipped) -> Candidate:
    """An interpreter the project file names is used as named; the source says when it is mesh-compose's own."""
    own = skipped.own
    if own is not None and len(candidate.argv) == 1 and _inside(os.path.dirname(candidate.argv[0]), own):
        return Candidate(candidate.argv, f"{candidate.source} (mesh-compose's own environment)")
    return candidate


# --- probing and checks ------------------------------------------------------


@dataclass
class _Questions:
    """What one interpreter is asked: distribution versions and module names."""

    packages: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)


def _probe_all(candidates: Mapping[tuple[str, ...], _Questions], cache_dir: Path,
               probe: ProbeFunction) -> dict[tuple[str, ...], ProbeResult]:
    """One probe per distinct interpreter, concurrently; cached ones cost nothing."""
    results: dict[tuple[str, ...], ProbeResult] = {}
    todo = []
    for argv, asked in candidates.items():
        cached = load_cached(cache_dir, argv[0], asked.packages, asked.modules) if len(argv) == 1 else None
        if cached is not None:
            results[argv] = cached
        else:
            todo.append(argv)
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            probed = list(pool.map(lambda argv: probe(argv, candidates[argv].packages, candidates[argv].modules),
                                   todo))
        for argv, result in zip(todo, probed):
            results[argv] = result
            if len(argv) == 1 and is_cacheable(argv[0], result):
                store_cached(cache_dir, argv[0], result)
    return results


def resolve_project(project: model.Project, names: Sequence[str] | None = None, *,
                    environ: Mapping[str, str] | None = None, cache_dir: Path | None = None,
                    probe: ProbeFunction | None = None,
                    platform: Platform = PLATFORM, verify_versions: bool = True) -> dict[str, ResolvedPython]:
    """The interpreter of every Python agent in the selection (all agents if `names` is None).
    `verify_versions`: raise InterpreterVersionError for one too old (`env` reports it instead)."""
    selected = [_agent(project, n) for n in (names if names is not None else list(project.agents))]
    agents = [a for a in selected if a.is_python]
    with ownership.remembering():
        found = {a.name: discover(a, project, environ=environ, platform=platform) for a in agents}
    wanted: dict[tuple[str, ...], _Questions] = {}
    for agent in agents:
        asked = wanted.setdefault(found[agent.name].argv, _Questions())
        asked.packages.extend(requirement_names(_packages(agent, project)))
        asked.modules.extend(_script_module(agent))
    cache = cache_dir if cache_dir is not None else default_cache_dir(environ)
    results = _probe_all(wanted, cache, probe or probe_interpreter)
    sharing: dict[str, list[str]] = {}
    for agent in agents:
        sharing.setdefault(_run_path(found[agent.name], results), []).append(agent.name)
    resolved = {a.name: _resolve_one(a, project, found[a.name], results, sharing) for a in agents}
    if verify_versions:
        check_versions(resolved)
    return resolved


async def resolve_project_async(project: model.Project, names: Sequence[str] | None = None,
                                **options: object) -> dict[str, ResolvedPython]:
    """`resolve_project` in a worker thread, for callers already inside anyio."""
    import anyio.to_thread

    call = functools.partial(resolve_project, project, names, **options)  # type: ignore[arg-type]
    return await anyio.to_thread.run_sync(call)


def _agent(project: model.Project, name: str) -> model.Agent:
    if name not in project.agents:
        raise UnknownAgentError(name, list(project.agents))
    return project.agents[name]


def _packages(agent: model.Agent, project: model.Project) -> list[str]:
    merged: list[str] = []
    for req in (*project.python.packages, *agent.python.packages):
        if req not in merged:
            merged.append(req)
    return merged


def _script_module(agent: model.Agent) -> list[str]:
    """The module name a script agent's file would shadow: `python h2.py` puts
    the script's directory first on sys.path, so `import h2` gets the script."""
    if agent.run is not model.RunKind.SCRIPT:
        return []
    stem = Path(agent.target).stem
    return [stem] if stem.isidentifier() else []


def _run_path(candidate: Candidate, results: Mapping[tuple[str, ...], ProbeResult]) -> str:
    """Wrappers (shims, `py -3`) are replaced by the interpreter they chose."""
    result = results[candidate.argv]
    if len(candidate.argv) == 1 and is_cacheable(candidate.argv[0], result):
        return candidate.argv[0]
    return result.executable


def _resolve_one(agent: model.Agent, project: model.Project, candidate: Candidate,
                 results: Mapping[tuple[str, ...], ProbeResult], sharing: Mapping[str, list[str]]) -> ResolvedPython:
    result = results[candidate.argv]
    executable = _run_path(candidate, results)
    packages = _packages(agent, project)
    wanted = set(requirement_names(packages))
    return ResolvedPython(
        executable=executable, version=result.version, version_text=result.version_text,
        implementation=result.implementation, is_venv=result.is_venv, prefix=result.prefix,
        base_prefix=result.base_prefix, source=candidate.source,
        installed={k: v for k, v in result.installed.items() if k in wanted},
        missing=unmet(packages, result), agents=tuple(sharing[executable]),
        requires=requires_of(agent, project),
        shadowed_module=next((name for name in _script_module(agent) if name in result.importable), ""),
    )


def check_versions(resolved: Mapping[str, ResolvedPython]) -> None:
    """InterpreterVersionError for the first interpreter too old for its agents' `requires`."""
    failing: dict[tuple[str, str], list[str]] = {}
    for name, python in resolved.items():
        if not version_ok(python.version_text, python.requires):
            failing.setdefault((python.executable, python.requires), []).append(name)
    if failing:
        (executable, requires), names = sorted(failing.items())[0]
        first = resolved[names[0]]
        raise InterpreterVersionError(executable, first.version_text, first.source, requires, names)


def environments(resolved: Mapping[str, ResolvedPython]) -> list[Environment]:
    """Agents grouped by the interpreter they share, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for name, python in resolved.items():
        groups.setdefault(python.executable, []).append(name)
    envs = []
    for executable, names in groups.items():
        first = resolved[names[0]]
        missing: list[str] = []
        for name in names:
            missing.extend(req for req in resolved[name].missing if req not in missing)
        envs.append(Environment(
            executable=executable, version_text=first.version_text, is_venv=first.is_venv,
            source=first.source, prefix=first.prefix, agents=tuple(names), missing=tuple(missing),
            missing_by_agent={n: resolved[n].missing for n in names},
        ))
    return envs


__all__ = [
    "Candidate", "Environment", "Platform", "ResolvedPython", "discover", "environments",
    "find_on_path", "own_environment", "resolve_project", "resolve_project_async", "search_dirs", "venv_python",
]
