"""What a cluster needs beyond valid schemas: the pieces fit together, every
start-order edge is kept, and no value from the environment leaks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from export_projects import CALLER_SECRET, FIXTURES, PROJECTS, ROOT, documents, export

from meshcompose.config.envfile import read_env_file
from meshcompose.config.loader import load_project
from meshcompose.export import ExportError, ExportOptions, export_kubernetes
from meshcompose.export.edges import ANNOTATION_PREFIX
from meshcompose.export.names import dns_label
from meshcompose.model import Condition

WORKLOADS = ("Deployment", "Job")


def _workloads(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (d for d in docs if d["kind"] in WORKLOADS)


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]


def _wait_spec(container: dict[str, Any]) -> dict[str, Any]:
    return json.loads(container["command"][-1])


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_every_service_selects_exactly_one_workloads_pods(name: str, exported: dict) -> None:
    docs = documents(exported[name])
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        matched = [w for w in _workloads(docs) if selector <= _pod(w)["metadata"]["labels"].items()]
        assert len(matched) == 1, service["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for c in _pod(matched[0])["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"]


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_deployment_selectors_match_their_pod_labels(name: str, exported: dict) -> None:
    for deployment in (d for d in documents(exported[name]) if d["kind"] == "Deployment"):
        assert deployment["spec"]["selector"]["matchLabels"].items() <= _pod(deployment)["metadata"]["labels"].items()


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_probe_ports_exist_on_the_container(name: str, exported: dict) -> None:
    checked = 0
    for workload in _workloads(documents(exported[name])):
        for container in _pod(workload)["spec"]["containers"]:
            declared = {p["containerPort"] for p in container.get("ports", [])} | {p["name"] for p in container.get("ports", [])}
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                handler = container.get(kind, {})
                for action in ("httpGet", "tcpSocket"):
                    if action in handler:
                        assert handler[action]["port"] in declared, (workload["metadata"]["name"], kind)
                        checked += 1
    assert checked or name == "mcp-mesh"


@pytest.mark.parametrize("name", ["mcp-mesh", "full"])
def test_the_registry_url_points_at_an_emitted_service(name: str, exported: dict) -> None:
    docs = documents(exported[name])
    services = {(d["metadata"]["name"], p["port"]) for d in docs if d["kind"] == "Service" for p in d["spec"]["ports"]}
    namespace = PROJECTS[name][3].namespace
    urls = {d["data"]["MCP_MESH_REGISTRY_URL"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-env")}
    assert len(urls) == 1
    host, port = urls.pop().removeprefix("http://").split(":")
    service = host.split(".")[0]
    assert (service, int(port)) in services
    assert host == (f"{service}.{namespace}.svc" if namespace else service)


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_every_depends_on_edge_is_annotated_and_waited_for(name: str, exported: dict) -> None:
    path, profiles, environ, _ = PROJECTS[name]
    project = load_project([path], profiles=profiles, environ=environ)
    workloads = {w["metadata"]["annotations"]["mesh-compose.dev/agent"]: w for w in _workloads(documents(exported[name]))
                 if w["metadata"]["labels"]["app.kubernetes.io/component"] == "agent"}
    kinds = {agent: w["kind"] for agent, w in workloads.items()}
    for agent in project.agents.values():
        workload = workloads[agent.name]
        init = {c["name"]: c for c in _pod(workload)["spec"].get("initContainers", [])}
        for dep in agent.depends_on:
            note = workload["metadata"]["annotations"][ANNOTATION_PREFIX + dns_label(dep.name)]
            assert note.startswith(f"{dep.condition.value}, required={str(dep.required).lower()}")
            waiter = init.get(f"wait-{dns_label(dep.name)}")
            if dep.condition is Condition.STARTED:
                assert waiter is None
                continue
            spec = _wait_spec(waiter)
            if dep.condition is Condition.COMPLETED_SUCCESSFULLY and kinds[dep.name] == "Job":
                assert (spec["kind"], spec["name"], spec["required"]) == ("job", dns_label(dep.name), dep.required)
                _assert_may_read(workload, documents(exported[name]), "jobs", spec["name"])
            elif dep.condition is Condition.REGISTERED:
                assert spec["kind"] == "registry" and spec["agent_id"].endswith(dep.name)
            elif dep.condition is Condition.HEALTHY:
                assert spec["kind"] in ("http", "tcp", "job", "deployment")


def _assert_may_read(workload: dict[str, Any], docs: list[dict[str, Any]], resource: str, name: str) -> None:
    """The pod's ServiceAccount is bound to a Role that can get exactly what it waits for, and nothing else."""
    account = _pod(workload)["spec"]["serviceAccountName"]
    binding = next(d for d in docs if d["kind"] == "RoleBinding" and d["subjects"][0]["name"] == account)
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == binding["roleRef"]["name"])
    rule = next(r for r in role["rules"] if r["resources"] == [resource])
    assert name in rule["resourceNames"] and rule["verbs"] == ["get"]
    assert _pod(workload)["spec"]["automountServiceAccountToken"] is False
    main = _pod(workload)["spec"]["containers"][0]
    assert not any(m["name"] == "mesh-compose-api" for m in main.get("volumeMounts", []))


def test_no_value_from_the_environment_or_an_env_file_appears(exported: dict) -> None:
    full = FIXTURES / "full"
    leaked = [CALLER_SECRET, *read_env_file(full / "api.env").values(), *read_env_file(full / "worker.env").values()]
    plain_in_file = {"info", "stream"}  # also written in the file itself (LOG_LEVEL: debug wins; MODE=batch wins)
    text = exported["full"].stream
    for value in set(leaked) - plain_in_file:
        assert value not in text, value
    docs = documents(exported["full"])
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    assert all("data" not in s and "stringData" not in s for s in secrets.values())
    assert secrets["api-secrets"]["metadata"]["annotations"]["mesh-compose.dev/keys"] == "API_KEY,FROM_CALLER"
    api_env = next(d for d in docs if d["metadata"]["name"] == "api-env")["data"]
    assert "API_KEY" not in api_env and api_env["LOG_LEVEL"] == "debug"


def test_dotenv_values_are_kept_out_too(tmp_path) -> None:
    (tmp_path / ".env").write_text("TOKEN=dotenv-secret-value\n")
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "mesh-compose.yaml").write_text("agents:\n  a:\n    script: a.py\n    environment: {TOKEN: '${TOKEN}'}\n")
    result = export_kubernetes(load_project(cwd=tmp_path, environ={}), ExportOptions())
    assert "dotenv-secret-value" not in result.stream and "secretKeyRef" in result.stream


def test_a_setting_interpolated_from_the_environment_is_refused(tmp_path) -> None:
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "mesh-compose.yaml").write_text("agents:\n  a:\n    script: a.py\n    args: [--port, '${PORT}']\n")
    with pytest.raises(ExportError) as error:
        export_kubernetes(load_project(cwd=tmp_path, environ={"PORT": "9123"}), ExportOptions())
    assert "agents.a.args[1]" in error.value.message and "9123" not in error.value.message


def test_strict_turns_warnings_into_an_error() -> None:
    with pytest.raises(ExportError) as error:
        export("demo", strict=True)
    assert "agents.notifier.restart" in error.value.message


def test_a_script_over_the_configmap_limit_is_refused(tmp_path) -> None:
    (tmp_path / "big.py").write_text("# " + "x" * (1024 * 1024) + "\n")
    (tmp_path / "mesh-compose.yaml").write_text("agents:\n  big: {script: big.py}\n")
    project = load_project(cwd=tmp_path, environ={})
    with pytest.raises(ExportError, match="1 MiB"):
        export_kubernetes(project, ExportOptions())
    image = export_kubernetes(project, ExportOptions(images=(("big", "ghcr.io/acme/big:1"),)))
    assert "big-script" not in dict(image.files).get("kustomization.yaml", "")


def test_agent_names_become_distinct_dns_labels() -> None:
    assert dns_label("catalog-api") == "catalog-api"
    assert dns_label("my_agent") != dns_label("my-agent") and dns_label("my_agent").startswith("my-agent-")
    assert dns_label("9lives")[0].isalpha() and len(dns_label("a" * 80)) <= 63
    assert ROOT.is_dir()


_ADDRESS = re.compile(r"(?:^|//|@)(?P<host>[a-z0-9]([-a-z0-9.]*[a-z0-9])?):\d+")


def _reached(docs: list[dict[str, Any]]) -> dict[str, str]:
    """Workload name -> how another agent reaches it: through its Service or through the registry."""
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    by_agent_id = {d["data"]["MCP_MESH_AGENT_ID"]: d["metadata"]["labels"]["app.kubernetes.io/name"]
                   for d in docs if d["kind"] == "ConfigMap" and "MCP_MESH_AGENT_ID" in d.get("data", {})}
    reached: dict[str, str] = {}
    for config in (d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-env")):
        owner = config["metadata"]["labels"]["app.kubernetes.io/name"]
        for key, value in config["data"].items():
            for match in _ADDRESS.finditer(value):
                service = match.group("host").split(".")[0]
                if service in services and service != owner and key != "MCP_MESH_HTTP_HOST":
                    reached[service] = f"{owner}'s {key}"
    for workload in _workloads(docs):
        owner = workload["metadata"]["name"]
        for init in _pod(workload)["spec"].get("initContainers", []):
            spec = _wait_spec(init)
            if spec["kind"] in ("http", "tcp"):
                host = spec["url"].split("//")[1].split(":")[0] if spec["kind"] == "http" else spec["host"]
                reached[host.split(".")[0]] = f"{owner}'s {spec['kind']} wait"
            elif spec["kind"] == "registry":
                reached[by_agent_id[spec["agent_id"]]] = f"{owner}'s registry wait"
        container = _pod(workload)["spec"]["containers"][0]
        if container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/livez":
            reached[owner] = "the registry, where the SDK agent registers its Service"
    return reached


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_no_workload_reached_over_its_service_or_the_registry_is_a_job(name: str, exported: dict) -> None:
    docs = documents(exported[name])
    kinds = {w["metadata"]["name"]: w["kind"] for w in _workloads(docs)}
    reached = _reached(docs)
    assert {target for target in reached if target != "mesh-registry"}, "the check must find something to check"
    jobs = {target: how for target, how in reached.items() if kinds[target] == "Job"}
    assert not jobs


@pytest.mark.parametrize(("name", "server"), [("demo", "catalog-api"), ("mcp-mesh", "hello")])
def test_the_check_catches_a_server_exported_as_a_job(name: str, server: str, exported: dict) -> None:
    docs = documents(exported[name])
    for workload in _workloads(docs):
        if workload["metadata"]["name"] == server:
            workload["kind"] = "Job"
    assert server in _reached(docs)
