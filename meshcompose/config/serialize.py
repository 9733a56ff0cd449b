"""The model back as a plain mesh-compose document: what `config` prints.

Every default is filled in and every short form is long, and the result is
itself a valid mesh-compose.yaml (durations in seconds, sizes in bytes,
absolute paths), so `config` output can be loaded again to the same project.
"""

from __future__ import annotations

from typing import Any

from meshcompose.model import Agent, Healthcheck, Project, RunKind


def project_to_dict(project: Project) -> dict[str, Any]:
    python: dict[str, Any] = {"requires": project.python.requires, "packages": list(project.python.packages)}
    if project.interpreter:
        python = {"interpreter": project.interpreter, **python}
    result: dict[str, Any] = {"name": project.name, "python": python}
    registry = _registry(project)
    if registry:
        result["registry"] = registry
    if project.tracing.enabled:
        result["tracing"] = {"redis": project.tracing.redis} if project.tracing.redis else True
    result["agents"] = {name: _agent(agent) for name, agent in project.agents.items()}
    return result


def _registry(project: Project) -> dict[str, Any]:
    registry = project.registry
    found: dict[str, Any] = {}
    for key in ("url", "host", "port"):
        if getattr(registry, key) is not None:
            found[key] = getattr(registry, key)
    if registry.command:
        found["command"] = "auto" if registry.command == ("auto",) else list(registry.command)
    return found


def _agent(agent: Agent) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if agent.run is RunKind.SCRIPT:
        result["script"] = agent.target
    elif agent.run is RunKind.MODULE:
        result["module"] = agent.target
    else:
        result["command"] = list(agent.command)
    result["args"] = list(agent.args)
    result["working_dir"] = str(agent.working_dir)
    if agent.interpreter:
        result["interpreter"] = agent.interpreter
    result["python"] = {"requires": agent.python.requires, "packages": list(agent.python.packages)}
    result["environment"] = dict(agent.environment)
    result["depends_on"] = {
        dep.name: {"condition": dep.condition.value, "required": dep.required} for dep in agent.depends_on
    }
    if agent.healthcheck:
        result["healthcheck"] = _healthcheck(agent.healthcheck)
    result.update(_restart(agent))
    result["stop_signal"] = agent.stop_signal
    result["stop_grace_period"] = agent.stop_grace_period
    resources = {k: getattr(agent.resources, k) for k in ("timeout", "memory_limit", "cpu_limit")}
    result["resources"] = {k: v for k, v in resources.items() if v is not None}
    result["metadata"] = _metadata(agent)
    if agent.log_level:
        result["log_level"] = agent.log_level
    result["profiles"] = list(agent.profiles)
    if agent.replicas != 1:
        result["replicas"] = agent.replicas
    if agent.increment_vars:
        result["increment_var"] = list(agent.increment_vars)
    result.update(agent.extensions)
    return result


def _healthcheck(check: Healthcheck) -> dict[str, Any]:
    kind = check.kind.value
    value: Any = list(check.command) if kind == "cmd" else True if kind == "registry" else check.target
    return {
        kind: value, "interval": check.interval, "timeout": check.timeout,
        "retries": check.retries, "start_period": check.start_period,
    }


def _restart(agent: Agent) -> dict[str, Any]:
    policy = agent.restart
    result: dict[str, Any] = {"restart": policy.mode.value}
    if policy.max_restarts is not None:
        result["max_restarts"] = policy.max_restarts
    result["backoff"] = {"initial": policy.backoff.initial, "maximum": policy.backoff.maximum}
    return result


def _metadata(agent: Agent) -> dict[str, Any]:
    metadata = agent.metadata
    found = {k: getattr(metadata, k) for k in ("name", "version", "description")}
    result: dict[str, Any] = {k: v for k, v in found.items() if v is not None}
    result["tags"] = list(metadata.tags)
    return result
