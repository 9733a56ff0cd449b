"""Watch mode's application side, for `watch`, `up --watch` and `up -d --watch`.

The supervisor watches (`runtime.watch`); what it cannot do itself is
settle an agent's packages again on a `rebuild` change, because that is the
application's launch step (`app.launches`, with the install prompt and
--install/--no-install). So this module supplies that step as the
supervisor's `rebuild` callback: with the terminal's prompt in the
foreground, and in the detached supervisor (`app.detach`), which has nobody
to ask and follows the policy `up` was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meshcompose.app.launches import launches_for
from meshcompose.app.options import InstallOptions, InstallPolicy, RegistryOptions, UpOptions
from meshcompose.mesh import tracing
from meshcompose.model import Project
from meshcompose.plan.launch import LaunchSpec
from meshcompose.plan.runplan import RunPlan, WatchSettings
from meshcompose.pyenv import requirements

if TYPE_CHECKING:
    from meshcompose.runtime.watch import Rebuild

def settings(options: UpOptions) -> WatchSettings | None:
    """What the run plan carries for watching; None without --watch."""
    if not options.watch:
        return None
    return WatchSettings(install=options.install.policy.value, index_args=options.install.index_args,
                         log_level=options.registry.log_level)


def rebuilder(plan: RunPlan, install: InstallOptions) -> Rebuild:
    """The supervisor's `rebuild`: the agent's packages (the project file's
    plus those its changed requirements files declare) checked and installed
    as `up` does, then its launch spec built again."""
    watched = plan.settings.watch or WatchSettings()
    registry = RegistryOptions(log_level=watched.log_level)

    def rebuild(agent: str, files: Sequence[Path], tell: Callable[[str], None]) -> LaunchSpec:
        project = with_packages(plan.project, agent, requirements.declared(files))
        options = install if install.decide is not None else dataclasses.replace(install, report=_Told(tell))
        return launches_for(project, [agent], plan.registry_url, registry, options,
                            tracing.published(plan.tracing_url), warn=False)[agent]

    return rebuild


def with_packages(project: Project, name: str, packages: Sequence[str]) -> Project:
    """The project with `packages` added to agent `name`'s python.packages."""
    if not packages:
        return project
    agent = project.agents[name]
    python = dataclasses.replace(agent.python, packages=tuple(dict.fromkeys((*agent.python.packages, *packages))))
    agents = {**project.agents, name: dataclasses.replace(agent, python=python)}
    return dataclasses.replace(project, agents=agents)


def detached_rebuilder(plan: RunPlan) -> Rebuild:
    """In the detached supervisor nobody can answer a prompt: `ask` stops
    with the fix command (shown in the agent's stream), as `up -d` does."""
    watched = plan.settings.watch or WatchSettings()
    return rebuilder(plan, InstallOptions(policy=InstallPolicy(watched.install), index_args=watched.index_args))


class _Told:
    """An EnvironmentReport that shows what the rebuild does through `tell`."""

    def __init__(self, tell: Callable[[str], None]) -> None:
        self.tell = tell

    def summary(self, environments: Sequence[object]) -> None:
        pass

    def message(self, text: str) -> None:
        self.tell(text)

    def refused(self, error: Exception) -> None:
        self.tell(str(error))

    def installing(self, executable: str, requirements: Sequence[str]):  # type: ignore[no-untyped-def]
        import contextlib

        self.tell(f"installing {', '.join(requirements)}")
        return contextlib.nullcontext(self._step)

    def _step(self, subject: str, status: str) -> None:
        if status == "step":  # the installer's own progress line
            self.tell(subject.strip())

