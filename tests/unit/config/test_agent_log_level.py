"""An agent's `log_level`: the SDK's MCP_MESH_LOG_LEVEL for that agent only."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcompose.config import loader
from meshcompose.config.serialize import project_to_dict
from meshcompose.errors import ConfigError
from meshcompose.mesh import meshplan


def load(tmp_path: Path, extra: str):
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("agents:\n  quiet: {command: [sh, -c, 'sleep 1']" + extra + "}\n"
                    "  loud: {command: [sh, -c, 'sleep 1']}\n"
                    "  own: {command: [sh, -c, 'sleep 1'], log_level: error, environment: {MCP_MESH_LOG_LEVEL: DEBUG}}\n")
    return loader.load_project([path], environ={})


def test_an_agent_log_level_wins_over_the_run_and_its_own_environment_over_it(tmp_path: Path):
    project = load(tmp_path, ", log_level: warning")
    assert project.agents["quiet"].log_level == "WARNING"
    env = meshplan.agent_environments(project, ["quiet", "loud", "own"], "http://127.0.0.1:8000", "INFO")
    assert env["quiet"]["MCP_MESH_LOG_LEVEL"] == "WARNING"
    assert env["loud"]["MCP_MESH_LOG_LEVEL"] == "INFO"
    assert "MCP_MESH_LOG_LEVEL" not in env["own"]  # the agent's environment sets it itself
    assert project_to_dict(project)["agents"]["quiet"]["log_level"] == "WARNING"


def test_an_unknown_log_level_is_a_located_error(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ", log_level: chatty")
    assert "log_level" in str(caught.value.problems[0])


def test_a_registry_healthcheck_can_ask_for_a_wired_agent(tmp_path: Path):
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("agents:\n  a: {script: a.py, healthcheck: {registry: wired}}\n"
                    "  b: {script: b.py, healthcheck: {registry: true}}\n")
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    project = loader.load_project([path], environ={})
    assert project.agents["a"].healthcheck.target == "wired"
    assert project.agents["b"].healthcheck.target == ""
    path.write_text("agents:\n  a: {script: a.py, healthcheck: {registry: maybe}}\n")
    with pytest.raises(ConfigError):
        loader.load_project([path], environ={})
