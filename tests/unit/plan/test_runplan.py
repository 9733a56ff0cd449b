"""The run plan file: a round trip keeps every field of the model and the
launch specs; a damaged, foreign or newer file is a RunPlanError that says
what is wrong (and where), never a traceback."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from meshcompose import model
from meshcompose.control.paths import plan_file, state_dir
from meshcompose.mesh import meshplan
from meshcompose.plan import runplan
from meshcompose.plan.launch import LaunchSpec
from meshcompose.plan.runplan import RunPlan, RunPlanError, RunSettings, WatchSettings


def write_plan(plan: runplan.RunPlan) -> Path:
    state_dir(plan.project.directory, plan.project.name)
    return runplan.write(plan, plan_file(plan.project.directory, plan.project.name))


def full_project(directory: Path) -> model.Project:
    """Every kind of field the model has, with values that differ from the defaults."""
    api = model.Agent(
        name="api", run=model.RunKind.SCRIPT, target=str(directory / "api.py"), args=("--port", "9000"),
        working_dir=directory, interpreter=".venv",
        python=model.PythonRequirements(requires=">=3.10", packages=("httpx>=0.27",)),
        environment={"TOKEN": "s3cret", "EMPTY": ""},
        healthcheck=model.Healthcheck(model.HealthKind.HTTP, target="http://127.0.0.1:9000/health",
                                      interval=0.5, timeout=1.5, retries=7, start_period=2.0),
        restart=model.RestartPolicy(model.RestartMode.ON_FAILURE, max_restarts=3,
                                    backoff=model.Backoff(0.25, 8.0), reset_after=30.0),
        stop_signal="SIGINT", stop_grace_period=2.5,
        resources=model.Resources(timeout=600.0, memory_limit=512 * 1024 * 1024, cpu_limit=0.5),
        metadata=model.Metadata(name="API", version="1.2", description="serves", tags=("web", "core")),
        profiles=("dev",),
        watch=(model.WatchRule(directory / "api"), model.WatchRule(directory / "requirements.txt",
                                                                  model.WatchAction.REBUILD, ("*.log",))),
        external=frozenset({"environment.TOKEN", "args[1]"}),
    )
    worker = model.Agent(
        name="worker", run=model.RunKind.MODULE, target="pkg.worker", working_dir=directory / "sub",
        depends_on=(model.DependsOn("api", model.Condition.HEALTHY),
                    model.DependsOn("setup", model.Condition.COMPLETED_SUCCESSFULLY, required=False)),
        healthcheck=model.Healthcheck(model.HealthKind.CMD, command=("true", "x")),
    )
    setup = model.Agent(name="setup", run=model.RunKind.COMMAND, command=("sh", "-c", "exit 0"),
                        working_dir=directory)
    return model.Project(
        name="demo", directory=directory, files=(directory / "mesh-compose.yaml",),
        agents={"setup": setup, "api": api, "worker": worker},
        python=model.PythonRequirements(packages=("mcp-mesh",)), interpreter="python3",
        registry=model.Registry(url="http://127.0.0.1:8123", command=("auto",)), profiles=("dev",),
    )


def full_plan(directory: Path) -> RunPlan:
    project = full_project(directory)
    mesh = meshplan.MeshPlan("http://127.0.0.1:8123", needed=True, reused=False, managed=True)
    project, selected = meshplan.with_managed_registry(project, list(project.agents), mesh,
                                                       which=lambda name: f"/usr/bin/{name}")
    launches = {name: LaunchSpec(argv=("/usr/bin/python3", "-u", name), cwd=directory, env={"A": "1", "NAME": name},
                                 interpreter="/usr/bin/python3", python_version="3.12.1", is_venv=False)
                for name in selected}
    return RunPlan(project, tuple(selected), launches, registry_url=mesh.url, published_registry_url=mesh.url,
                   settings=RunSettings(abort_on_exit=True, exit_code_from="setup", stop_timeout=3.0,
                                        watch=WatchSettings("install", ("--find-links", "/w"), "DEBUG")))


def test_a_round_trip_keeps_everything(tmp_path: Path):
    plan = full_plan(tmp_path)
    back = runplan.loads(runplan.dumps(plan))
    assert back == plan
    assert list(back.project.agents) == ["mesh-registry", "setup", "api", "worker"]  # file order kept
    worker = back.project.agents["worker"]
    assert worker.depends_on[0] == model.DependsOn("mesh-registry", model.Condition.HEALTHY)
    assert isinstance(worker.working_dir, Path) and worker.restart.mode is model.RestartMode.NO
    assert back.project.agents["api"].resources.memory_limit == 512 * 1024 * 1024
    assert back.launches["api"].argv == ("/usr/bin/python3", "-u", "api")
    # not compared by ==, and a set is no JSON type: written as a sorted list, read back as a set
    assert back.project.agents["api"].external == frozenset({"environment.TOKEN", "args[1]"})


def test_the_file_is_private_atomic_and_read_back(tmp_path: Path):
    plan = full_plan(tmp_path)
    path = write_plan(plan)
    assert path == tmp_path / ".mesh-compose" / "demo" / "run-plan.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # launch environments hold secrets
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["run-plan.json"]  # no temporary file left
    assert runplan.read(path) == plan
    document = json.loads(path.read_text())
    assert document["kind"] == runplan.PLAN_KIND and document["version"] == runplan.PLAN_VERSION


def damaged(tmp_path: Path, change) -> Path:
    path = write_plan(full_plan(tmp_path))
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


def setitem(keys, value):
    def change(document):
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


@pytest.mark.parametrize("change, expected", [
    (setitem(["version"], 2), "was written by a newer mesh-compose (0.1.0, plan format 2; this one reads format 1)"),
    (setitem(["version"], "1"), "is corrupt (no valid version)"),
    (setitem(["kind"], "something else"), "is not a mesh-compose run plan"),
    (lambda document: document.pop("plan"), "is corrupt (no plan)"),
    (setitem(["plan", "project", "agents", "api", "restart", "mode"], "sometimes"),
     "is invalid at plan.project.agents.api.restart.mode: expected one of 'no', 'on-failure', 'always', "
     "'unless-stopped', got 'sometimes'"),
    (setitem(["plan", "launches", "api", "argv"], "python api.py"),
     "is invalid at plan.launches.api.argv: expected a list, got 'python api.py'"),
    (setitem(["plan", "launches", "api", "env", "A"], 1), "is invalid at plan.launches.api.env.A: expected str, got 1"),
    (setitem(["plan", "launches", "api", "argv", 1], None),
     "is invalid at plan.launches.api.argv[1]: expected str, got None"),
    (setitem(["plan", "project", "agents", "api", "stop_grace_period"], "2s"),
     "is invalid at plan.project.agents.api.stop_grace_period: expected float, got '2s'"),
    (setitem(["plan", "project", "agents", "api", "resources", "memory_limit"], True),
     "is invalid at plan.project.agents.api.resources.memory_limit: expected int, got True"),
    (setitem(["plan", "selected"], None), "is invalid at plan.selected: expected a list, got None"),
    (lambda document: document["plan"].pop("registry_url"), "is invalid at plan.registry_url: missing"),
    (setitem(["plan", "project", "agents", "worker", "colour"], "red"),
     "is invalid at plan.project.agents.worker: unknown field(s): colour"),
])
def test_a_damaged_or_newer_plan_says_what_is_wrong(tmp_path: Path, change, expected: str):
    path = damaged(tmp_path, change)
    with pytest.raises(RunPlanError) as caught:
        runplan.read(path)
    assert caught.value.message == f"the run plan {path} {expected}"
    assert caught.value.hint


def test_a_plan_that_is_not_json_or_missing(tmp_path: Path):
    path = write_plan(full_plan(tmp_path))
    path.write_text('{"kind": "mesh-compose run plan", "version": 1, "plan": {')
    with pytest.raises(RunPlanError, match=r"is corrupt \(not JSON"):
        runplan.read(path)
    with pytest.raises(RunPlanError, match="no run plan at"):
        runplan.read(tmp_path / "nowhere.json")


def test_reading_a_plan_imports_neither_jsonschema_nor_networkx(tmp_path: Path):
    path = write_plan(full_plan(tmp_path))
    code = ("import sys\nfrom meshcompose.plan import runplan\nplan = runplan.read(sys.argv[1])\n"
            "print(plan.selected[0], sorted(m for m in ('jsonschema', 'networkx', 'anyio') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=1) == ["mesh-registry", "[]\n"]


def test_the_supervisor_entry_refuses_a_newer_plan_without_a_traceback(tmp_path: Path):
    path = damaged(tmp_path, setitem(["version"], 99))
    result = subprocess.run([sys.executable, "-m", "meshcompose.app.detach", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "error: the run plan" in result.stdout and "plan format 99" in result.stdout
    assert "hint: start the project with the mesh-compose that planned it" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / ".mesh-compose" / "demo" / "state.json").exists()


def test_a_round_trip_keeps_provenance_and_extensions(tmp_path: Path):
    """`external` is left out of equality, so the whole-plan round trip cannot
    see it: a set of setting paths (and the x-* extensions) must survive too."""
    plan = full_plan(tmp_path)
    name = next(iter(plan.project.agents))
    agent = dataclasses.replace(plan.project.agents[name], external=frozenset({"environment.B", "environment.A"}),
                                extensions={"x-kubernetes": {"image": "example/agent:1"}})
    project = dataclasses.replace(plan.project, agents={**plan.project.agents, name: agent})
    back = runplan.read(write_plan(dataclasses.replace(plan, project=project)))
    assert back.project.agents[name].external == frozenset({"environment.A", "environment.B"})
    assert back.project.agents[name].extensions == {"x-kubernetes": {"image": "example/agent:1"}}
