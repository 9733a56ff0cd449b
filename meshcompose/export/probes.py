"""Healthchecks, stopping and resources as container and pod fields.

- http -> httpGet on the pod's port (Kubernetes probes the pod IP, so the
  URL's loopback host is dropped); tcp -> tcpSocket; cmd -> exec;
  registry -> exec of the wait script once (the agent's id listed healthy);
  log -> not mappable (a probe cannot read the container's output).
- The healthcheck always becomes the readinessProbe (which is what Services
  and `healthy` waits follow); a livenessProbe only with
  `x-kubernetes.liveness: true`; `start_period` becomes a startupProbe that
  allows that long plus the retries.
- An agent that uses the MCP Mesh SDK is probed as MCP Mesh's agent chart
  probes it, on the SDK's own endpoints (see `sdk`): startup `/startupz`,
  liveness `/livez`, readiness `/ready` (`/health` for all three before SDK
  3.6). An http, tcp or cmd healthcheck written in the file stays its
  readinessProbe; a `registry` healthcheck is what `/ready` and the
  dependents' registry waits stand for.
- `stop_signal` becomes `lifecycle.stopSignal` on Kubernetes >= 1.33 (it
  needs `spec.os.name`), else a preStop hook that sends the signal to the
  agent (PID 1) and waits for the grace period, so the kubelet's SIGTERM only
  follows if the agent outlives it.
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

from meshcompose.export import sdk, waits
from meshcompose.export.context import Context
from meshcompose.export.options import STOP_SIGNAL_VERSION
from meshcompose.model import Agent, Healthcheck, HealthKind

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""}


# Timing of the SDK probes without a healthcheck: readiness and liveness as
# MCP Mesh's agent chart; startup polled faster (an agent is up in seconds)
# and allowed as long as the chart allows it (30 checks 10 s apart).
SDK_READINESS_TIMING = {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3}
SDK_LIVENESS_TIMING = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
SDK_STARTUP_PERIOD, SDK_STARTUP_TIMEOUT, SDK_STARTUP_SECONDS = 2, 5, 300


def probes(agent: Agent, context: Context) -> dict[str, Any]:
    """readinessProbe / livenessProbe / startupProbe fields for the agent's container."""
    use = context.sdk_agents.get(agent.name)
    if use is not None:
        return _sdk_probes(agent, use, context)
    check = agent.healthcheck
    handler = _handler(agent, check, context) if check else None
    liveness = bool(agent.extensions.get("x-kubernetes", {}).get("liveness"))
    if handler is None:
        port = context.ports.get(agent.name)
        if liveness:
            context.warn(f"agents.{agent.name}.x-kubernetes.liveness", "no healthcheck to use as a livenessProbe")
        return {"readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2}} if port else {}
    assert check is not None
    period, timeout = _seconds(check.interval), _seconds(check.timeout)
    probe = {**handler, "periodSeconds": period, "timeoutSeconds": timeout, "failureThreshold": max(1, check.retries)}
    found: dict[str, Any] = {"readinessProbe": probe}
    if liveness:
        found["livenessProbe"] = dict(probe)
    if check.start_period > 0:
        allowance = math.ceil(check.start_period / period) + max(1, check.retries)
        found["startupProbe"] = {**handler, "periodSeconds": period, "timeoutSeconds": timeout,
                                 "failureThreshold": allowance}
    return found


def _sdk_probes(agent: Agent, use: sdk.SdkUse, context: Context) -> dict[str, Any]:
    port = context.ports[agent.name]
    startup, liveness, readiness = use.paths
    check = agent.healthcheck
    own = None
    if check is not None and check.kind is not HealthKind.REGISTRY:
        own = _handler(agent, check, context)
    timing = dict(SDK_READINESS_TIMING)
    if check is not None:
        timing = {"periodSeconds": _seconds(check.interval), "timeoutSeconds": _seconds(check.timeout),
                  "failureThreshold": max(1, check.retries)}
    allowance = math.ceil(SDK_STARTUP_SECONDS / SDK_STARTUP_PERIOD)
    if check is not None and check.start_period > 0:
        allowance = max(allowance, math.ceil(check.start_period / SDK_STARTUP_PERIOD) + max(1, check.retries))
    return {
        "readinessProbe": {**(own or {"httpGet": {"path": readiness, "port": port}}), **timing},
        "livenessProbe": {"httpGet": {"path": liveness, "port": port}, **SDK_LIVENESS_TIMING},
        "startupProbe": {"httpGet": {"path": startup, "port": port}, "periodSeconds": SDK_STARTUP_PERIOD,
                         "timeoutSeconds": SDK_STARTUP_TIMEOUT, "failureThreshold": allowance},
    }


def _handler(agent: Agent, check: Healthcheck, context: Context) -> dict[str, Any] | None:
    where = f"agents.{agent.name}.healthcheck"
    if check.kind is HealthKind.HTTP:
        url = urllib.parse.urlsplit(check.target)
        if (url.hostname or "") not in _LOCAL_HOSTS:
            context.warn(f"{where}.http", f"checks {url.hostname}, but a probe can only reach the pod itself")
        port = url.port or (443 if url.scheme == "https" else 80)
        path = url.path or "/"
        path += f"?{url.query}" if url.query else ""
        get: dict[str, Any] = {"path": path, "port": port}
        if url.scheme == "https":
            get["scheme"] = "HTTPS"
        return {"httpGet": get}
    if check.kind is HealthKind.TCP:
        host, _, port_text = check.target.rpartition(":")
        if host.strip("[]") not in _LOCAL_HOSTS:
            context.warn(f"{where}.tcp", f"checks {host}, but a probe can only reach the pod itself")
        return {"tcpSocket": {"port": int(port_text)}}
    if check.kind is HealthKind.CMD:
        return {"exec": {"command": list(check.command)}}
    if check.kind is HealthKind.REGISTRY:
        spec = {"kind": "registry", "url": context.registry_url, "agent_id": context.agent_id(agent),
                "what": f"'{agent.name}' in the registry", "once": True}
        return {"exec": {"command": waits.command(spec)}}
    context.warn(f"{where}.log", "a probe cannot read the agent's output; no readinessProbe from it")
    return None


def probe_ports(probed: dict[str, Any]) -> set:
    """The ports the probes use (each must be a port of the container)."""
    return {probe[kind]["port"] for probe in probed.values() for kind in ("httpGet", "tcpSocket") if kind in probe}


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


def stopping(agent: Agent, context: Context) -> dict[str, Any]:
    """Pod fields (`terminationGracePeriodSeconds`, maybe `os`) and the container's `lifecycle`."""
    grace = math.ceil(agent.stop_grace_period)
    fields: dict[str, Any] = {"terminationGracePeriodSeconds": grace}
    if agent.stop_signal == "SIGTERM":
        return fields
    where = f"agents.{agent.name}.stop_signal"
    if context.options.kubernetes_version >= STOP_SIGNAL_VERSION:
        fields["os"] = {"name": "linux"}
        fields["lifecycle"] = {"stopSignal": agent.stop_signal}
        context.warn(where, "lifecycle.stopSignal needs the ContainerStopSignals feature gate (alpha since 1.33); "
                     "without it the API server drops the field and the agent gets SIGTERM")
        return fields
    kill = (f"import os, signal, time; os.kill(1, signal.{agent.stop_signal}); "
            f"time.sleep({grace})")
    fields["lifecycle"] = {"preStop": {"exec": {"command": ["python", "-c", kill]}}}
    return fields


def resources(agent: Agent, context: Context, in_job: bool) -> dict[str, Any]:
    """Container `resources` (limits = requests) and, for a Job, `activeDeadlineSeconds`."""
    found: dict[str, Any] = {}
    limits: dict[str, str] = {}
    if agent.resources.cpu_limit is not None:
        limits["cpu"] = f"{max(1, round(agent.resources.cpu_limit * 1000))}m"
    if agent.resources.memory_limit is not None:
        limits["memory"] = memory_quantity(agent.resources.memory_limit)
    if limits:
        found["resources"] = {"limits": limits, "requests": dict(limits)}
    if agent.resources.timeout is not None:
        if in_job:
            found["activeDeadlineSeconds"] = max(1, math.ceil(agent.resources.timeout))
        else:
            context.warn(f"agents.{agent.name}.resources.timeout",
                         "a Deployment has no run-time limit (only a Job has activeDeadlineSeconds)")
    return found


def memory_quantity(size: int) -> str:
    for unit, factor in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10), ("G", 10**9), ("M", 10**6)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
