"""The launch step: from a project's agents to the launch specs a supervisor
runs, with interpreters and packages settled (the install prompt included)
and each agent's registry and tracing environment.

`up` plans a run with it, `up NAME` on a running project hands what it
builds to the supervisor, `run AGENT` runs one spec here, and watch mode's
rebuild builds an agent's spec again after its packages changed. It is the
one place that builds them, so all four agree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from meshcompose.app.environments import ensure_environments
from meshcompose.app.options import InstallOptions, RegistryOptions
from meshcompose.control import state
from meshcompose.mesh import meshplan, registry, tracing
from meshcompose.model import Project
from meshcompose.plan import launch
from meshcompose.plan.launch import LaunchSpec
from meshcompose.pyenv import shadowing


def registry_url(project: Project, given: RegistryOptions, running: state.StateDoc | None = None) -> str:
    """The registry agents are told about: the command line's, else the
    running project's (agents started later join the mesh the others are in),
    else the environment's, the project file's, or the default."""
    if running is not None and running.get("registry_url") and not given.given:
        return running["registry_url"]  # type: ignore[return-value]
    return registry.resolve_url(project.registry, cli_url=given.url, cli_host=given.host, cli_port=given.port,
                                environ=os.environ)


def launches_for(project: Project, names: Sequence[str], url: str, given: RegistryOptions,
                 install: InstallOptions, traced: tracing.TracingPlan = tracing.OFF,
                 *, warn: bool = True) -> dict[str, LaunchSpec]:
    """The launch spec of each of `names`, interpreters settled first; with
    `warn`, a script that shadows a module is said once (a rebuild of an
    agent already started was said when it started)."""
    resolved = ensure_environments(project, names, install)
    if warn:
        for warning in shadowing.warnings([project.agents[name] for name in resolved], resolved):
            install.report.message(f"warning: {warning}")
    mesh_env = meshplan.agent_environments(project, names, url, given.log_level)
    for name in names:
        added = tracing.agent_environment(project.agents[name], traced)
        if added:
            mesh_env[name] = {**mesh_env.get(name, {}), **added}
    return launch.build_launches(project, names, resolved, os.environ, mesh_env)
