"""The on-disk memo that lets a warm `up` skip schema validation and networkx."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshcompose.config import memo
from meshcompose.errors import ConfigError, CycleError
from meshcompose.model import DependsOn

PROJECT = """\
agents:
  api: {script: api.py}
  worker: {script: worker.py, depends_on: {api: {condition: started}}}
"""


def test_digest_ignores_key_order_and_entries_round_trip(tmp_path: Path):
    assert memo.digest({"a": 1, "b": [2]}) == memo.digest({"b": [2], "a": 1})
    assert memo.digest({"a": 1}) != memo.digest({"a": 2})
    store = memo.Memo("plans", tmp_path)
    assert store.get("k") is None
    store.put("k", ["api", "worker"])
    assert store.get("k") == ["api", "worker"]
    (store.directory / "k.json").write_text("{not json")
    assert store.get("k") is None  # a damaged entry is a miss, never an error


LOAD_AND_PLAN = """
import sys
if sys.argv[2] == "without-jsonschema-rs":
    sys.modules["jsonschema_rs"] = None  # as on Python 3.9, which it has no wheel for: jsonschema validates
from meshcompose.config import loader
from meshcompose.plan import planner
project = loader.load_project([sys.argv[1]])
planner.check(project)
validated = any(sys.modules.get(name) for name in ("jsonschema", "jsonschema_rs"))  # either validator
print(planner.select(project, ["worker"]), validated, "networkx" in sys.modules)
"""


def load_and_plan(tmp_path: Path, validators: str = "both") -> str:
    env = {**os.environ, "MESH_COMPOSE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", LOAD_AND_PLAN, str(tmp_path / "mesh-compose.yaml"), validators],
                            capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip()


def touch_scripts(directory: Path) -> None:
    for name in ("api.py", "worker.py", "worker2.py", "a.py"):
        (directory / name).write_text("")


@pytest.mark.parametrize("validators", ["both", "without-jsonschema-rs"])
def test_a_warm_load_of_an_unchanged_project_imports_neither_jsonschema_nor_networkx(tmp_path: Path,
                                                                                     validators: str):
    touch_scripts(tmp_path)
    (tmp_path / "mesh-compose.yaml").write_text(PROJECT)
    # cold: validated; planning a valid project needs no networkx either
    assert load_and_plan(tmp_path, validators) == "['api', 'worker'] True False"
    assert load_and_plan(tmp_path, validators) == "['api', 'worker'] False False"
    (tmp_path / "mesh-compose.yaml").write_text(PROJECT.replace("worker.py", "worker2.py"))
    assert load_and_plan(tmp_path, validators).endswith("True False")  # a changed document is validated again


def test_remembered_successes_never_hide_a_new_mistake(tmp_path: Path, monkeypatch):
    from meshcompose.config import loader
    from meshcompose.plan import planner

    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "mesh-compose.yaml"
    touch_scripts(tmp_path)
    path.write_text(PROJECT)
    project = loader.load_project([path])
    planner.check(project)
    path.write_text(PROJECT + "  extra: {script: a.py, restart: sometimes}\n")
    with pytest.raises(ConfigError, match="sometimes"):
        loader.load_project([path])
    cyclic = [f"  {n}: {{script: a.py, depends_on: [{d}]}}" for n, d in (("a", "b"), ("b", "a"))]
    path.write_text(PROJECT + "\n".join(cyclic) + "\n")
    with pytest.raises(ConfigError, match="dependency cycle: a -> b -> a"):  # the loader finds it first...
        loader.load_project([path], find_cycles=planner.find_cycles)
    with pytest.raises(CycleError):  # ...and the planner, for a project it was given by hand
        planner.check(dataclasses.replace(project, agents={
            **project.agents, "api": dataclasses.replace(project.agents["api"], depends_on=(DependsOn("worker"),))}))
