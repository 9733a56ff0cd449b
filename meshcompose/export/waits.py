"""Start order in Kubernetes: one init container per `depends_on` edge.

Each waiting init container runs in the dependent pod's own image, with its
own `python -c WAIT_SCRIPT SPEC` (standard library only), so no extra image
is pulled. What it waits for, per condition:

- `started`: nothing (pods start together; the edge is only annotated).
- `healthy`: the dependency's Service answers its probe. A Service routes
  only to pods that pass their readinessProbe, so an HTTP check through it,
  or a TCP connect to it for the other kinds, holds exactly when the
  dependency is ready. Without a Service (no port), the Deployment's
  `availableReplicas` is read from the API instead.
- `completed_successfully`: the Job's `Complete` condition, read from the
  Kubernetes API. A `Failed` Job makes a required wait fail (the pod shows
  Init:Error, as the dependent is `skipped` locally); `required: false`
  lets it go on.
- `registered`: the registry's `/agents` lists the dependency's agent id as
  healthy.

API access is least privilege: a ServiceAccount per waiting agent, bound to a
Role that can only `get` the named Jobs/Deployments. The pod does not mount
its token (`automountServiceAccountToken: false`); only the waiting init
containers mount a projected, short-lived token with the cluster CA and the
namespace, so the agent container itself never holds API credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

API_MOUNT = "/var/run/mesh-compose/api"
API_VOLUME = "mesh-compose-api"
TOKEN_SECONDS = 3600  # the kubelet refreshes it; the script re-reads it on every check

# Runs on any Python 3 of a pod's image. spec: {"kind": http|tcp|registry|job|deployment,
# "what": text, "once": bool, ...}. Exit 0 once the condition holds; 1 for a failed
# required Job, or after one failed check when "once" (a readiness probe).
WAIT_SCRIPT = r'''import json, os, socket, ssl, sys, time, urllib.request
spec = json.loads(sys.argv[1])
API = os.environ.get("MESH_COMPOSE_API_DIR", "''' + API_MOUNT + r'''")  # the variable: a seam for tests


def get_json(url, headers=None, context=None):
    request = urllib.request.Request(url, headers=dict(headers or {}, Accept="application/json"))
    with urllib.request.urlopen(request, timeout=5, context=context) as response:
        return json.loads(response.read().decode("utf-8"))


def from_api(kind, name):
    read = lambda file: open(os.path.join(API, file)).read().strip()
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    host = "[%s]" % host if ":" in host else host
    group = "apis/batch/v1" if kind == "job" else "apis/apps/v1"
    url = "https://%s:%s/%s/namespaces/%s/%ss/%s" % (
        host, os.environ["KUBERNETES_SERVICE_PORT"], group, read("namespace"), kind, name)
    context = ssl.create_default_context(cafile=os.path.join(API, "ca.crt"))
    return get_json(url, {"Authorization": "Bearer " + read("token")}, context).get("status") or {}


def check():
    kind = spec["kind"]
    if kind == "http":
        with urllib.request.urlopen(spec["url"], timeout=5) as response:
            return True, "HTTP %d" % response.status
    if kind == "tcp":
        socket.create_connection((spec["host"], spec["port"]), timeout=5).close()
        return True, "connected"
    if kind == "registry":
        for agent in get_json(spec["url"] + "/agents").get("agents") or []:
            if agent.get("id") == spec["agent_id"]:
                return agent.get("status") == "healthy", "listed as %s" % agent.get("status")
        return False, "not listed"
    status = from_api(kind, spec["name"])
    if kind == "deployment":
        return (status.get("availableReplicas") or 0) > 0, "%s available" % (status.get("availableReplicas") or 0)
    conditions = dict((c.get("type"), c.get("status")) for c in status.get("conditions") or [])
    if spec.get("until") == "ready" and (status.get("ready") or 0) > 0:
        return True, "ready"
    if conditions.get("Complete") == "True":
        return True, "completed"
    if conditions.get("Failed") == "True":
        if spec.get("required", True):
            print("%s failed: not starting" % spec["what"], flush=True)
            sys.exit(1)
        return True, "failed, but not required"
    return False, "not complete"


last = None
while True:
    try:
        ready, detail = check()
    except Exception as error:
        ready, detail = False, "%s: %s" % (type(error).__name__, error)
    if ready or spec.get("once"):
        print("%s: %s" % (spec["what"], detail), flush=True)
        sys.exit(0 if ready else 1)
    if detail != last:
        print("waiting for %s: %s" % (spec["what"], detail), flush=True)
        last = detail
    time.sleep(2)
'''


@dataclass(frozen=True)
class Wait:
    """One edge's init container: what it checks, and the API object it may read."""

    container: str
    spec: dict[str, Any]
    how: str  # for the edge's annotation
    api_object: tuple[str, str] | None = None  # ("job" | "deployment", name)


def command(spec: dict[str, Any]) -> list[str]:
    return ["python", "-c", WAIT_SCRIPT, json.dumps(spec, sort_keys=True, separators=(",", ":"))]


def init_container(wait: Wait, image: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": wait.container, "image": image, "imagePullPolicy": "IfNotPresent", "command": command(wait.spec),
    }
    if wait.api_object:
        container["volumeMounts"] = [{"name": API_VOLUME, "mountPath": API_MOUNT, "readOnly": True}]
    return container


def api_volume() -> dict[str, Any]:
    """A short-lived token, the cluster CA and the namespace, for the waiting containers only."""
    return {"name": API_VOLUME, "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_SECONDS}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]}}


@dataclass
class Access:
    """The API objects one agent's waits read: becomes its ServiceAccount, Role and RoleBinding."""

    name: str
    objects: list[tuple[str, str]] = field(default_factory=list)

    def rules(self) -> list[dict[str, Any]]:
        rules = []
        for kind, group in (("job", "batch"), ("deployment", "apps")):
            names = sorted({name for k, name in self.objects if k == kind})
            if names:
                rules.append({"apiGroups": [group], "resources": [kind + "s"], "resourceNames": names,
                              "verbs": ["get"]})
        return rules
