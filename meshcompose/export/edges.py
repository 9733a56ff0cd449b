"""Every `depends_on` edge of an agent: how its pod waits, and the annotation that says so.

The mechanisms are in `waits`; this module picks one per edge from the
dependency's shape (Job or Deployment, Service or not, which healthcheck).
With a registry in the deployment, every agent also waits for it to be
healthy, as under `up` with a managed registry.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from meshcompose.export import names
from meshcompose.export.context import REGISTRY, Context, health_port
from meshcompose.export.waits import Wait
from meshcompose.model import Agent, Condition, DependsOn, HealthKind

ANNOTATION_PREFIX = f"depends-on.{names.DOMAIN}/"


@dataclass(frozen=True)
class Edge:
    dependency: DependsOn
    wait: Wait | None  # None: `started`, nothing to wait for
    implicit: bool = False  # added by mesh-compose (the registry), not written in the file

    @property
    def annotation(self) -> tuple[str, str]:
        dep = self.dependency
        source = "implicit (the registry)" if self.implicit else "from depends_on"
        how = self.wait.how if self.wait else "no wait: pods start together"
        return (ANNOTATION_PREFIX + names.dns_label(dep.name),
                f"{dep.condition.value}, required={str(dep.required).lower()}, {source}: {how}")


def edges(agent: Agent, context: Context) -> list[Edge]:
    found = []
    if context.with_registry:
        implicit = DependsOn(REGISTRY, Condition.HEALTHY)
        found.append(Edge(implicit, _registry_wait(context), implicit=True))
    for dependency in agent.depends_on:
        found.append(Edge(dependency, _wait(agent, dependency, context)))
    return found


def _registry_wait(context: Context) -> Wait:
    url = context.registry_url + "/health"
    spec = {"kind": "http", "url": url, "what": "the MCP Mesh registry"}
    return Wait(names.container_name("wait", REGISTRY), spec, f"init container polls {url}")


def _wait(agent: Agent, dependency: DependsOn, context: Context) -> Wait | None:
    condition = dependency.condition
    if condition is Condition.STARTED:
        return None
    target = context.names[dependency.name]
    container = names.container_name("wait", target)
    what = f"{dependency.name} ({condition.value})"
    other = context.project.agents[dependency.name]
    registry_check = other.healthcheck is not None and other.healthcheck.kind is HealthKind.REGISTRY
    if condition is Condition.REGISTERED or (condition is Condition.HEALTHY and registry_check):
        agent_id = context.agent_id(other)
        spec = {"kind": "registry", "url": context.registry_url, "agent_id": agent_id, "what": what}
        return Wait(container, spec, f"init container polls {context.registry_url}/agents until {agent_id} is healthy")
    if condition is Condition.COMPLETED_SUCCESSFULLY:
        return _completed(agent, dependency, container, what, context)
    return _healthy(agent, dependency, container, what, context)


def _completed(agent: Agent, dependency: DependsOn, container: str, what: str, context: Context) -> Wait:
    target = context.names[dependency.name]
    if dependency.name in context.jobs:
        spec = {"kind": "job", "name": target, "required": dependency.required, "what": what}
        return Wait(container, spec, f"init container reads Job {target} through the API until it completes",
                    ("job", target))
    decision = context.workload_kinds[dependency.name]
    context.warn(f"agents.{agent.name}.depends_on.{dependency.name}",
                 f"'{dependency.name}' is a Deployment ({decision.reason}), which never completes; "
                 "waiting for it to be available instead")
    spec = {"kind": "deployment", "name": target, "what": what}
    return Wait(container, spec, f"init container reads Deployment {target} through the API until one pod is "
                "available", ("deployment", target))


def _healthy(agent: Agent, dependency: DependsOn, container: str, what: str, context: Context) -> Wait:
    other = context.project.agents[dependency.name]
    target = context.names[dependency.name]
    if other.healthcheck is None:
        context.warn(f"agents.{agent.name}.depends_on.{dependency.name}",
                     f"'{dependency.name}' has no healthcheck, so `healthy` waits only for it to be ready "
                     "(its port open, or its pod running)")
    port = context.ports.get(dependency.name)
    if port is None and dependency.name in context.jobs:
        spec = {"kind": "job", "name": target, "until": "ready", "required": dependency.required, "what": what}
        return Wait(container, spec, f"init container reads Job {target} through the API until a pod is ready",
                    ("job", target))
    if port is None:
        spec = {"kind": "deployment", "name": target, "what": what}
        return Wait(container, spec, f"init container reads Deployment {target} through the API until one pod "
                    "is available", ("deployment", target))
    host = context.host(target)
    check = other.healthcheck
    if check is not None and check.kind is HealthKind.HTTP:
        parsed = urllib.parse.urlsplit(check.target)
        url = urllib.parse.urlunsplit(parsed._replace(netloc=f"{host}:{health_port(other)}"))
        return Wait(container, {"kind": "http", "url": url, "what": what}, f"init container polls {url}")
    spec = {"kind": "tcp", "host": host, "port": port, "what": what}
    return Wait(container, spec, f"init container connects to {host}:{port} (the Service routes only to ready pods)")
