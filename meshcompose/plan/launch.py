"""How an agent is started: its argv, working directory and environment.

Pure apart from `preflight`, which looks at the files an agent needs so that
a missing script is reported before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from meshcompose.errors import AgentStartError
from meshcompose.model import Agent, Project, RunKind
from meshcompose.names import REPLICA_VARIABLE


@dataclass(frozen=True)
class LaunchSpec:
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    interpreter: Optional[str] = None  # shown in "started" messages and `ps`
    python_version: Optional[str] = None
    is_venv: Optional[bool] = None

    def to_dict(self) -> dict:
        """A JSON-ready form, for handing a launch to a running supervisor."""
        return {"argv": list(self.argv), "cwd": str(self.cwd), "env": dict(self.env),
                "interpreter": self.interpreter, "python_version": self.python_version,
                "is_venv": self.is_venv}

    @classmethod
    def from_dict(cls, raw: Mapping) -> LaunchSpec:
        return cls(argv=tuple(raw["argv"]), cwd=Path(raw["cwd"]), env=dict(raw["env"]),
                   interpreter=raw.get("interpreter"), python_version=raw.get("python_version"),
                   is_venv=raw.get("is_venv"))


def agent_argv(agent: Agent, executable: Optional[str]) -> tuple[str, ...]:
    if agent.run is RunKind.COMMAND:
        return (*agent.command, *agent.args)
    if not executable:
        raise AgentStartError(f"agent '{agent.name}' has no Python interpreter")
    if agent.run is RunKind.MODULE:
        return (executable, "-u", "-m", agent.target, *agent.args)
    return (executable, "-u", agent.target, *agent.args)


def agent_environment(
    project: Project,
    agent: Agent,
    caller: Mapping[str, str],
    extra: Mapping[str, str] = {},
) -> dict:
    """Caller's environment, then `extra` (e.g. registry settings, which the
    agent's own `environment` may override), then the agent's environment
    (env_file already folded in by config), then mesh-compose's own keys."""
    env = dict(caller)
    env.update(extra)
    env.update(agent.environment)
    env["PYTHONUNBUFFERED"] = "1"
    env["MESH_COMPOSE_PROJECT"] = project.name
    # With the name, which project's agent this is: how a `down` finds it when the state file is damaged.
    env["MESH_COMPOSE_PROJECT_DIR"] = str(project.directory)
    env["MESH_COMPOSE_AGENT"] = agent.name
    env[REPLICA_VARIABLE] = str(agent.replica)
    return env


def preflight(agents: Sequence[Agent]) -> None:
    """Every problem that would stop an agent from starting, reported at once."""
    problems = [p for agent in agents for p in _problems(agent)]
    if problems:
        raise AgentStartError(
            "cannot start:\n" + "\n".join(f"  {p}" for p in problems),
            hint="fix the paths in the project file (relative paths start at the project directory)",
        )


def _problems(agent: Agent) -> list:
    found = []
    if not agent.working_dir.is_dir():
        found.append(f"{agent.name}: working_dir {agent.working_dir} is not a directory")
    if agent.run is RunKind.SCRIPT:
        script = Path(agent.target)
        if not script.is_file():
            found.append(f"{agent.name}: script {script} does not exist")
        elif not os.access(script, os.R_OK):
            found.append(f"{agent.name}: script {script} is not readable")
    return found


def build_launches(
    project: Project,
    names: Sequence[str],
    resolved: Mapping[str, object],
    caller: Mapping[str, str],
    extra_env: Mapping[str, Mapping[str, str]] = {},
) -> dict:
    """A LaunchSpec per agent; `resolved` maps Python agents to their
    `pyenv.ResolvedPython` (executable, version_text, is_venv)."""
    launches = {}
    for name in names:
        agent = project.agents[name]
        python = resolved.get(name)
        executable = getattr(python, "executable", None)
        launches[name] = LaunchSpec(
            argv=agent_argv(agent, executable),
            cwd=agent.working_dir,
            env=agent_environment(project, agent, caller, extra_env.get(name, {})),
            interpreter=executable,
            python_version=getattr(python, "version_text", None),
            is_venv=getattr(python, "is_venv", None),
        )
    return launches
