"""Which agents become Jobs and which Deployments: one row per rule, each
exported for real from a project file written into tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshcompose.config.loader import load_project
from meshcompose.export import ExportError, ExportOptions, ExportResult, export_kubernetes

PLAIN = "print('hi')\n"
SDK = "import mesh\n"


def _export(tmp_path: Path, agents: dict[str, Any], scripts: dict[str, str] | None = None,
            strict: bool = False) -> ExportResult:
    for name in agents:
        (tmp_path / f"{name}.py").write_text((scripts or {}).get(name, PLAIN))
        agents[name] = {"script": f"{name}.py", **agents[name]}
    (tmp_path / "mesh-compose.yaml").write_text(yaml.safe_dump({"name": "kinds", "agents": agents}))
    return export_kubernetes(load_project(cwd=tmp_path, environ={}), ExportOptions(strict=strict))


def _workloads(result: ExportResult) -> dict[str, dict[str, Any]]:
    return {m.name: dict(m.body) for m in result.manifests if m.kind in ("Job", "Deployment")
            and m.body["metadata"]["labels"]["app.kubernetes.io/component"] == "agent"}


def _restart_warnings(result: ExportResult) -> list[str]:
    return [w for w in result.warnings if ".restart:" in w or ".max_restarts:" in w]


HTTP_CHECK = {"http": "http://127.0.0.1:8800/health"}

# (id, agents, SDK scripts, expected kinds, fragment of the workload annotation per agent)
RULES = [
    ("completed_successfully makes a one-shot Job",
     {"setup": {}, "api": {"depends_on": {"setup": {"condition": "completed_successfully"}}, "restart": "always"}},
     {}, {"setup": "Job", "api": "Deployment"}, {"setup": "'api' waits for it to complete"}),
    ("x-kubernetes kind Job wins over a healthcheck, a port and restart: always",
     {"batch": {"healthcheck": HTTP_CHECK, "restart": "always", "x-kubernetes": {"kind": "Job"}}},
     {}, {"batch": "Job"}, {"batch": "x-kubernetes.kind: Job"}),
    ("x-kubernetes kind Deployment wins over completed_successfully",
     {"setup": {"x-kubernetes": {"kind": "Deployment"}},
      "api": {"depends_on": {"setup": {"condition": "completed_successfully"}}, "restart": "always"}},
     {}, {"setup": "Deployment", "api": "Deployment"}, {"setup": "x-kubernetes.kind: Deployment"}),
    ("a server (a port) is a Deployment",
     {"web": {"environment": {"MCP_MESH_HTTP_PORT": "8800"}}}, {}, {"web": "Deployment"},
     {"web": "listens on port 8800"}),
    ("an agent with a healthcheck is a Deployment",
     {"worker": {"healthcheck": {"cmd": ["true"]}}}, {}, {"worker": "Deployment"}, {"worker": "has a healthcheck"}),
    ("an MCP Mesh agent is a Deployment",
     {"hello": {}}, {"hello": SDK}, {"hello": "Deployment"}, {"hello": "an MCP Mesh agent"}),
    ("depended on as started is a Deployment",
     {"side": {}, "main": {"depends_on": ["side"], "restart": "always"}}, {},
     {"side": "Deployment", "main": "Deployment"}, {"side": "'main' depends on it (started)"}),
    ("depended on as healthy is a Deployment",
     {"side": {}, "main": {"depends_on": {"side": {"condition": "healthy"}}, "restart": "always"}}, {},
     {"side": "Deployment"}, {"side": "'main' depends on it (healthy)"}),
    ("depended on as registered is a Deployment",
     {"side": {}, "main": {"depends_on": {"side": {"condition": "registered"}}, "restart": "always"}}, {},
     {"side": "Deployment"}, {"side": "'main' depends on it (registered)"}),
    ("anything else runs until stopped: a Deployment",
     {"loop": {}}, {}, {"loop": "Deployment"}, {"loop": "nothing waits for it to complete"}),
]


@pytest.mark.parametrize(("agents", "scripts", "kinds", "reasons"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_the_workload_kind_follows_what_the_agent_is(tmp_path: Path, agents: dict, scripts: dict, kinds: dict,
                                                      reasons: dict) -> None:
    workloads = _workloads(_export(tmp_path, agents, scripts))
    assert {name: workloads[name]["kind"] for name in kinds} == kinds
    for name, fragment in reasons.items():
        assert fragment in workloads[name]["metadata"]["annotations"]["mesh-compose.dev/workload"]


# (id, agent, expected restart warnings (fragments), the Job's restartPolicy and backoffLimit or None)
RESTARTS = [
    ("a Deployment cannot keep restart: no", {"healthcheck": HTTP_CHECK}, ["restart: 'no' cannot be kept"], None),
    ("a Deployment keeps always", {"healthcheck": HTTP_CHECK, "restart": "always"}, [], None),
    ("a Deployment restarts on-failure after exit 0 too, without limit",
     {"healthcheck": HTTP_CHECK, "restart": "on-failure", "max_restarts": 2},
     ["restart: on-failure becomes a Deployment", "max_restarts: a Deployment restarts without limit"], None),
    ("an explicit Deployment accepts that it restarts",
     {"x-kubernetes": {"kind": "Deployment"}}, [], None),
    ("an explicit Deployment accepts that it restarts after exit 0 too",
     {"x-kubernetes": {"kind": "Deployment"}, "restart": "on-failure"}, [], None),
    ("a one-shot Job with restart: no never retries", {}, [], ("Never", 0)),
    ("a one-shot Job retries on-failure up to max_restarts",
     {"restart": "on-failure", "max_restarts": 2}, [], ("OnFailure", 2)),
    ("a one-shot Job without max_restarts retries 6 times",
     {"restart": "on-failure"}, ["max_restarts: a Job retries at most 6 times"], ("OnFailure", 6)),
    ("a Job cannot run again after exit 0",
     {"restart": "always", "max_restarts": 1}, ["restart: always cannot be kept"], ("OnFailure", 1)),
]


@pytest.mark.parametrize(("agent", "warned", "job"), [r[1:] for r in RESTARTS], ids=[r[0] for r in RESTARTS])
def test_what_of_the_restart_policy_cannot_be_kept_is_a_warning(tmp_path: Path, agent: dict, warned: list,
                                                                 job: tuple | None) -> None:
    agents = {"a": agent}
    if job:
        agents["b"] = {"depends_on": {"a": {"condition": "completed_successfully"}}, "restart": "always"}
    result = _export(tmp_path, agents)
    found = [w for w in _restart_warnings(result) if w.startswith("agents.a.")]
    assert len(found) == len(warned) and all(any(f in w for w in found) for f in warned), found
    workload = _workloads(result)["a"]
    if job:
        assert workload["kind"] == "Job"
        spec = workload["spec"]
        assert (spec["template"]["spec"]["restartPolicy"], spec["backoffLimit"]) == job
    else:
        assert workload["kind"] == "Deployment" and workload["spec"]["replicas"] == 1
    if warned:
        with pytest.raises(ExportError, match="--strict"):
            _export(tmp_path, {"a": agent}, strict=True)


def test_strict_passes_when_the_kinds_are_chosen_explicitly(tmp_path: Path) -> None:
    agents = {"setup": {}, "api": {"healthcheck": HTTP_CHECK, "x-kubernetes": {"kind": "Deployment"},
                                   "depends_on": {"setup": {"condition": "completed_successfully"}}}}
    result = _export(tmp_path, agents, strict=True)
    assert result.warnings == ()
    assert {name: w["kind"] for name, w in _workloads(result).items()} == {"setup": "Job", "api": "Deployment"}


def test_a_job_others_wait_on_as_healthy_is_reported(tmp_path: Path) -> None:
    agents = {"setup": {}, "a": {"depends_on": {"setup": {"condition": "completed_successfully"}}, "restart": "always"},
              "b": {"depends_on": {"setup": {"condition": "healthy"}}, "restart": "always"}}
    result = _export(tmp_path, agents)
    assert _workloads(result)["setup"]["kind"] == "Job"
    assert any(w.startswith("agents.setup: is a Job") and "'b' waits for it to be healthy" in w
               for w in result.warnings), result.warnings


def test_an_unknown_kind_is_refused_by_the_schema(tmp_path: Path) -> None:
    from meshcompose.errors import MeshComposeError

    with pytest.raises(MeshComposeError, match="kind"):
        _export(tmp_path, {"a": {"x-kubernetes": {"kind": "CronJob"}}})
