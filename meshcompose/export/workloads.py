"""One agent's objects: ConfigMaps, Secret stub, wait RBAC, Service, Deployment or Job.

`kinds` decides which: a one-shot is a Job (`backoffLimit` from its restart
policy: 0 for `restart: no`), everything else a Deployment with the
`Recreate` strategy, so two copies of an agent (with one agent id) never
run at once, as locally. The workload's annotation says why it is one or
the other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from meshcompose.export import env as envs
from meshcompose.export import images, kinds, names, probes, waits
from meshcompose.export.context import Context
from meshcompose.export.edges import Edge, edges
from meshcompose.export.options import Manifest
from meshcompose.export.yamlout import filename
from meshcompose.model import Agent


def agent_manifests(agent: Agent, context: Context) -> list[Manifest]:
    name = context.names[agent.name]
    placement = images.place(context.project, agent, context.image(agent), agent.name in context.sdk_agents,
                             context.warn)
    environment = envs.agent_env(agent, context)
    agent_edges = edges(agent, context)
    found = [_configmap(context, name, "env", dict(sorted(environment.config.items())))]
    if placement.script:
        found.append(_configmap(context, name, "script", {placement.script[0]: placement.script[1]}))
    if environment.secret_keys:
        found.append(_secret_stub(context, name, environment.secret_keys))
    access = waits.Access(f"{name}-waits", [e.wait.api_object for e in agent_edges if e.wait and e.wait.api_object])
    if access.objects:
        found += _rbac(context, access, name)
    stopping = probes.stopping(agent, context)
    limits = probes.resources(agent, context, in_job=agent.name in context.jobs)
    container = _container(agent, context, placement, environment, {**limits, **stopping})
    if container.get("ports"):
        found.append(_service(context, name, container["ports"]))
    pod = _pod(agent, context, placement, container, agent_edges, access, stopping)
    found.append(_workload(agent, context, pod, agent_edges, _hash(found), limits.get("activeDeadlineSeconds")))
    kinds.restart_warnings(agent, context.workload_kinds[agent.name], context.warn)
    return found


def replicas(agent: Agent) -> int:
    """The one place a Deployment's replica count is taken: the agent's
    `replicas` (0 keeps the Deployment, scaled to none, as compose defines it)."""
    return agent.replicas


def _manifest(body: dict[str, Any]) -> Manifest:
    return Manifest(filename(body["kind"], body["metadata"]["name"]), body)


def _configmap(context: Context, owner: str, suffix: str, data: dict[str, str]) -> Manifest:
    metadata = context.metadata(f"{owner}-{suffix}", owner)
    return _manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})


def _secret_stub(context: Context, name: str, keys: list[str]) -> Manifest:
    """No values, ever: re-applying the stub never overwrites what was filled in."""
    metadata = context.metadata(f"{name}-secrets", name)
    metadata["annotations"] = {
        f"{names.DOMAIN}/keys": ",".join(keys),
        f"{names.DOMAIN}/fill-in": (f"kubectl create secret generic {name}-secrets "
                                    + " ".join(f"--from-literal={key}=..." for key in keys)),
    }
    return _manifest({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque"})


def _rbac(context: Context, access: waits.Access, owner: str) -> list[Manifest]:
    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": access.name}
    if context.options.namespace:
        subject["namespace"] = context.options.namespace
    rbac = "rbac.authorization.k8s.io"
    return [
        _manifest({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": context.metadata(access.name, owner),
                   "automountServiceAccountToken": False}),
        _manifest({"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": context.metadata(access.name, owner),
                   "rules": access.rules()}),
        _manifest({"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": context.metadata(access.name, owner),
                   "roleRef": {"apiGroup": rbac, "kind": "Role", "name": access.name}, "subjects": [subject]}),
    ]


def _service(context: Context, name: str, ports: list[dict[str, Any]]) -> Manifest:
    service_ports = [{"name": p["name"], "port": p["containerPort"], "targetPort": p["name"]} for p in ports]
    return _manifest({"apiVersion": "v1", "kind": "Service", "metadata": context.metadata(name),
                      "spec": {"selector": context.selector(name), "ports": service_ports}})


def _container(agent: Agent, context: Context, placement: images.Placement, environment: envs.AgentEnv,
               fields: dict[str, Any]) -> dict[str, Any]:
    """The agent's container; `fields` may carry its `resources` and `lifecycle`."""
    name = context.names[agent.name]
    container: dict[str, Any] = {"name": name, "image": placement.image, "imagePullPolicy": "IfNotPresent",
                                 "command": list(placement.command)}
    if placement.working_dir:
        container["workingDir"] = placement.working_dir
    probed = probes.probes(agent, context)
    ports = _ports(context.ports.get(agent.name), probes.probe_ports(probed))
    if ports:
        container["ports"] = ports
    container["envFrom"] = [{"configMapRef": {"name": f"{name}-env"}}]
    env = environment.container_env(f"{name}-secrets")
    if env:
        container["env"] = env
    if "resources" in fields:
        container["resources"] = fields["resources"]
    container.update(probed)
    if "lifecycle" in fields:
        container["lifecycle"] = fields["lifecycle"]
    if placement.script:
        container["volumeMounts"] = [{"name": "script", "mountPath": images.SCRIPT_MOUNT, "readOnly": True}]
    return container


def _ports(main: Any, probed: set) -> list[dict[str, Any]]:
    ports = []
    if main:
        ports.append({"name": "http", "containerPort": main})
    for index, port in enumerate(sorted(p for p in probed if p != main)):
        ports.append({"name": f"probe-{index}" if index else "probe", "containerPort": port})
    return ports


def _pod(agent: Agent, context: Context, placement: images.Placement, container: dict[str, Any],
         agent_edges: list[Edge], access: waits.Access, stopping: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = {}
    if access.objects:
        pod["serviceAccountName"] = access.name
    pod["automountServiceAccountToken"] = False
    pod["enableServiceLinks"] = False  # no Docker-link variables (CATALOG_API_PORT=tcp://...) in the environment
    if "os" in stopping:
        pod["os"] = stopping["os"]
    pod["terminationGracePeriodSeconds"] = stopping["terminationGracePeriodSeconds"]
    init = [waits.init_container(e.wait, placement.image) for e in agent_edges if e.wait]
    if init:
        pod["initContainers"] = init
    pod["containers"] = [container]
    volumes = []
    if placement.script:
        volumes.append({"name": "script", "configMap": {"name": f"{context.names[agent.name]}-script"}})
    if access.objects:
        volumes.append(waits.api_volume())
    if volumes:
        pod["volumes"] = volumes
    return pod


def _workload(agent: Agent, context: Context, pod: dict[str, Any], agent_edges: list[Edge], digest: str,
              deadline: Any) -> Manifest:
    name = context.names[agent.name]
    metadata = context.metadata(name)
    decision = context.workload_kinds[agent.name]
    metadata["annotations"] = _annotations(agent, decision, agent_edges)
    template = {"metadata": {"labels": context.labels(name), "annotations": {f"{names.DOMAIN}/config-hash": digest}},
                "spec": pod}
    if decision.kind is kinds.Kind.JOB:
        retries = kinds.job_retries(agent)
        pod["restartPolicy"] = "OnFailure" if retries else "Never"
        spec: dict[str, Any] = {"backoffLimit": retries}
        if deadline:
            spec["activeDeadlineSeconds"] = deadline
        spec["template"] = template
        return _manifest({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec})
    spec = {"replicas": replicas(agent), "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": context.selector(name)}, "template": template}
    return _manifest({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})


def _annotations(agent: Agent, decision: kinds.Decision, agent_edges: list[Edge]) -> dict[str, str]:
    found = {f"{names.DOMAIN}/agent": agent.name,
             f"{names.DOMAIN}/workload": f"{decision.kind.value}: {decision.reason}"}
    meta = agent.metadata
    for key, value in (("display-name", meta.name), ("version", meta.version), ("description", meta.description)):
        if value:
            found[f"{names.DOMAIN}/{key}"] = value
    if meta.tags:
        found[f"{names.DOMAIN}/tags"] = ",".join(meta.tags)
    found.update(edge.annotation for edge in agent_edges)
    return found


def _hash(manifests: list[Manifest]) -> str:
    """Changes when the agent's configuration or script does, so `kubectl apply` rolls its pod."""
    data = [m.body.get("data") for m in manifests if m.kind == "ConfigMap"]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]
