"""Version and package checks: PEP 440 specifiers and PEP 508 requirements.

Never compares version strings as strings ("3.10" < "3.7" is true for
strings); everything goes through `packaging`, imported by the checks that
have something to check: a project without version or package requirements
(most small ones) starts without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from meshcompose import model
from meshcompose.errors import ConfigError
from meshcompose.pyenv.probe import ProbeResult

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet


def parse_requirement(text: str) -> Requirement:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(text)
    except InvalidRequirement as error:
        raise ConfigError(f"invalid package requirement {text!r}: {error}") from None


def parse_specifier(text: str) -> SpecifierSet:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ConfigError(f"invalid Python version requirement {text!r}",
                          hint="use a PEP 440 specifier such as '>=3.9'") from None


def requirement_names(requirements: Sequence[str]) -> list[str]:
    if not requirements:
        return []
    from packaging.utils import canonicalize_name

    return [canonicalize_name(parse_requirement(r).name) for r in requirements]


def requires_of(agent: model.Agent, project: model.Project) -> str:
    """The agent's own requirement: the loader already applied the project default (agents override it)."""
    return agent.python.requires.strip()


def version_ok(version_text: str, requires: str) -> bool:
    if not requires:
        return True
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(version_text)
    except InvalidVersion:
        return False
    return parse_specifier(requires).contains(version, prereleases=True)


def _satisfied(req: Requirement, result: ProbeResult) -> bool:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    installed = result.installed.get(canonicalize_name(req.name))
    if installed is None:
        return False
    if not req.specifier:
        return True
    try:
        return req.specifier.contains(Version(installed), prereleases=True)
    except InvalidVersion:
        return False


def unmet(requirements: Sequence[str], result: ProbeResult) -> tuple[str, ...]:
    """The requirement strings this interpreter does not satisfy (markers evaluated there)."""
    missing = []
    for text in requirements:
        req = parse_requirement(text)
        if req.marker is not None and not req.marker.evaluate(dict(result.markers)):
            continue
        if not _satisfied(req, result):
            missing.append(text)
    return tuple(missing)
