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
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

from meshcompose import envfile, units
from meshcompose.config_agent import AgentBuilder
from meshcompose.config_forms import NAME_PATTERN, name_from
from meshcompose.errors import ConfigError, Problem
from meshcompose.model import Project, PythonRequirements, Registry
from meshcompose.validate import locate
from meshcompose.yamlload import Loaded, Path_

T = TypeVar("T")


class Located:
    """Collects problems located by the document's marks; converts values safely."""

    def __init__(self, loaded: Loaded) -> None:
        self.marks = loaded.marks
        self.problems: List[Problem] = []

    def add(self, path: Path_, message: str) -> None:
        self.problems.append(locate(self.marks, path, message))

    def convert(self, path: Path_, raw: Any, parse: Callable[[Any], T], default: T) -> T:
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, TypeError, OverflowError) as error:
            self.add(path, str(error))
            return default

    def duration(self, path: Path_, raw: Any, default: float) -> float:
        return self.convert(path, raw, units.parse_duration, default)

    def integer(self, path: Path_, raw: Any, default: Optional[int], low: int = 0, high: Optional[int] = None) -> Optional[int]:
        value = self.convert(path, raw, _whole_number, default)
        if value is not None and (value < low or (high is not None and value > high)):
            self.add(path, f"must be between {low} and {high}" if high is not None else f"must be at least {low}")
            return default
        return value

    def requirements(self, path: Path_, raw: Mapping[str, Any], fallback: PythonRequirements) -> PythonRequirements:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        requires = raw.get("requires", fallback.requires)
        try:
            SpecifierSet(requires)
        except InvalidSpecifier:
            self.add(path + ("requires",), f"not a PEP 440 version specifier: {requires!r} (e.g. '>=3.10')")
        packages = tuple(raw.get("packages", ()))
        for index, package in enumerate(packages):
            try:
                Requirement(package)
            except InvalidRequirement as error:
                self.add(path + ("packages", index), f"not a PEP 508 requirement: {package!r} ({error})")
        return PythonRequirements(requires=requires, packages=packages)


def build_project(
    loaded: Loaded, *, files: Tuple[Path, ...], directory: Path, project_name: Optional[str],
    profiles: Tuple[str, ...], variables: Mapping[str, str],
) -> Project:
    data: Dict[str, Any] = loaded.data
    located = Located(loaded)
    name = _project_name(located, data, directory, project_name)
    raw_python = data.get("python") or {}
    python = located.requirements(("python",), raw_python, PythonRequirements())
    raw_agents: Dict[str, Any] = data.get("agents") or {}
    if not raw_agents and not loaded.broken:
        located.add(("agents",), "no agents defined; add at least one under `agents:`")
    enabled = {n for n, a in raw_agents.items() if _enabled(a, profiles)}
    known = {**{name: {} for name in loaded.broken if name}, **raw_agents}
    context = BuildContext(directory, variables, python, known, enabled | loaded.broken)
    builder = AgentBuilder(located, context)
    agents = {n: builder.build(n, a) for n, a in raw_agents.items() if n in enabled}
    registry = _registry(located, data.get("registry") or {})
    if located.problems:
        raise ConfigError(located.problems)
    return Project(
        name=name, directory=directory, files=files, agents=agents, python=python,
        interpreter=raw_python.get("interpreter"), registry=registry, profiles=profiles,
    )


class BuildContext:
    """What every agent is built against."""

    def __init__(self, directory: Path, variables: Mapping[str, str], python: PythonRequirements,
                 raw_agents: Mapping[str, Any], enabled: set) -> None:
        self.directory = directory
        self.variables = variables
        self.python = python
        self.raw_agents = raw_agents
        self.enabled = enabled

    def path(self, text: str) -> Path:
        """Absolute, relative to the project directory, `~` expanded; symlinks kept."""
        return Path(os.path.normpath(self.directory / Path(text).expanduser()))

    def read_env_file(self, located: Located, path: Path_, text: str) -> Dict[str, str]:
        file = self.path(text)
        try:
            return envfile.read_env_file(file, self.variables)
        except envfile.EnvFileError as error:
            located.problems.append(Problem(str(file), error.line, 1, "", error.message))
        except OSError as error:
            located.add(path, f"cannot read env_file {str(file)!r}: {error.strerror or error}")
        return {}

    def profiles_of(self, name: str) -> Sequence[str]:
        return tuple((self.raw_agents.get(name) or {}).get("profiles") or ())

    def suggestion(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self.raw_agents), n=1)
        return f"; did you mean '{close[0]}'?" if close else f"; agents: {', '.join(self.raw_agents) or '(none)'}"


def _enabled(agent: Mapping[str, Any], active: Sequence[str]) -> bool:
    wanted = agent.get("profiles") or ()
    return not wanted or any(p in active for p in wanted)


def _project_name(located: Located, data: Mapping[str, Any], directory: Path, override: Optional[str]) -> str:
    if override is not None:
        if not NAME_PATTERN.match(override):
            located.problems.append(Problem("-p/--project-name", 0, 0, "", f"invalid project name {override!r}: "
                                            "use letters, digits, '_', '.' and '-'"))
        return override
    return data.get("name") or name_from(directory.name.lower(), "project")


def _registry(located: Located, raw: Mapping[str, Any]) -> Registry:
    if raw.get("url") and (raw.get("host") or raw.get("port") is not None):
        located.add(("registry", "url"), "use either url or host/port, not both")
    url = raw.get("url")
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        located.add(("registry", "url"), f"not an http(s) URL: {url!r}")
    port = located.integer(("registry", "port"), raw.get("port"), None, 1, 65535)
    command = raw.get("command")
    argv: Tuple[str, ...] = ("auto",) if command == "auto" else tuple(str(a) for a in command or ())
    return Registry(url=url, host=raw.get("host"), port=port, command=argv)



def _whole_number(raw: Any) -> int:
    text = str(raw).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"expected a whole number, got {raw!r}")
    return int(text)
