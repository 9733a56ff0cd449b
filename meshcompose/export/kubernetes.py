"""`export kubernetes`: the project as Kubernetes manifests, start order kept.

The one entry point is `export_kubernetes(project, options)`. It prints
nothing; it returns the manifests as ordered data, their rendered files
(one per object, plus a kustomization.yaml for `kubectl apply -k`), the
same objects as one stream, and every warning about what could not be
mapped. With `strict`, warnings raise ExportError instead.

A value from outside the project files must never reach a manifest. For
`environment` keys that is handled by Secret references (see `env`); any
other setting interpolated from the caller's environment or `.env` cannot
be referenced, so the export refuses it and says which one.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from meshcompose.export import images, yamlout
from meshcompose.export.context import REGISTRY, REGISTRY_PORT, Context
from meshcompose.export.options import ExportError, ExportOptions, ExportResult, Manifest, check_images
from meshcompose.export.workloads import agent_manifests
from meshcompose.model import Project
from meshcompose.plan import replicas

# Settings the export never writes, so where their value came from does not matter.
_NOT_WRITTEN = ("interpreter", "python", "profiles", "backoff", "max_restarts", "env_file", "depends_on")


def export_kubernetes(project: Project, options: ExportOptions) -> ExportResult:
    check_images(options.images, list(project.agents))
    project = replicas.pod_values(project)
    _refuse_external_settings(project)
    context = Context.build(project, options)
    manifests: list[Manifest] = []
    if options.namespace:
        manifests.append(_namespace(options.namespace, context))
    if context.with_registry:
        manifests += _registry(context)
    for agent in project.agents.values():
        manifests += agent_manifests(agent, context)
    warnings = tuple(context.warn.messages)
    if options.strict and warnings:
        raise ExportError(f"{len(warnings)} setting(s) cannot be mapped to Kubernetes (--strict):\n"
                          + "\n".join(f"  {warning}" for warning in warnings),
                          hint="drop --strict to export anyway, or change those settings")
    return ExportResult(
        manifests=tuple(manifests),
        files=yamlout.render_files(manifests, options.namespace),
        stream=yamlout.render_stream(manifests),
        warnings=warnings,
    )


def _refuse_external_settings(project: Project) -> None:
    found = sorted(
        f"agents.{agent.name}.{setting}"
        for agent in project.agents.values() for setting in agent.external
        if _written(setting)
    )
    if found:
        raise ExportError(
            "these settings take their value from your environment or .env, and a manifest must not carry it:\n"
            + "\n".join(f"  {setting}" for setting in found),
            hint="write the value in the project file, or pass it through `environment:` (exported as a Secret "
                 "reference); for an image tag use --image AGENT=IMAGE")


def _written(setting: str) -> bool:
    """Whether the export copies this setting (environment is handled by Secret references)."""
    key = setting.split(".")[0].split("[")[0]
    if key == "environment" or key in _NOT_WRITTEN:
        return False
    return not key.startswith("x-") or key == "x-kubernetes"


def _namespace(namespace: str, context: Context) -> Manifest:
    metadata = {"name": namespace, "labels": context.labels(namespace, "namespace")}
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
    return Manifest(yamlout.filename("Namespace", namespace), body)


def _registry(context: Context) -> list[Manifest]:
    """MCP Mesh's registry image, as its own Helm chart runs it (SQLite in /data, /health)."""
    project = context.project
    if project.registry.command and project.registry.command != ("auto",):
        context.warn("registry.command", f"the cluster runs {images.REGISTRY_IMAGE} instead")
    host = urllib.parse.urlsplit(project.registry.url).hostname if project.registry.url else project.registry.host
    if host and host not in ("127.0.0.1", "localhost", "::1"):
        context.warn("registry", f"agents use the registry Service ({context.registry_url}) instead of {host}")
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5, "timeoutSeconds": 3,
             "failureThreshold": 3}
    container: dict[str, Any] = {
        "name": "registry", "image": images.REGISTRY_IMAGE, "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": REGISTRY_PORT}],
        "readinessProbe": probe, "livenessProbe": dict(probe),
        # MCP Mesh's registry chart defaults.
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    pod = {"automountServiceAccountToken": False, "enableServiceLinks": False, "containers": [container],
           "volumes": [{"name": "data", "emptyDir": {}}]}
    template = {"metadata": {"labels": context.labels(REGISTRY, "registry")}, "spec": pod}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": context.metadata(REGISTRY, component="registry"),
                  "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                           "selector": {"matchLabels": context.selector(REGISTRY)}, "template": template}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": context.metadata(REGISTRY, component="registry"),
               "spec": {"selector": context.selector(REGISTRY),
                        "ports": [{"name": "http", "port": REGISTRY_PORT, "targetPort": "http"}]}}
    return [Manifest(yamlout.filename("Service", REGISTRY), service),
            Manifest(yamlout.filename("Deployment", REGISTRY), deployment)]
