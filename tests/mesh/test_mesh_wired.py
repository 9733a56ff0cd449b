"""`healthcheck: {registry: wired}`: healthy once registered and every dependency
resolved, so a mesh can start all at once and `up -d` returns when it is wired."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.mesh

STRICT = """    depends_on:
      hello:
        condition: registered
    healthcheck:
      registry: true
"""
WIRED = """    healthcheck:
      registry: wired
"""


def test_up_d_returns_when_the_mesh_is_wired_without_a_strict_order(example):
    project, cli = example
    text = (project / "mesh-compose.yaml").read_text()
    assert text.count(STRICT) == 1
    (project / "mesh-compose.yaml").write_text(text.replace(STRICT, WIRED))
    up = cli("up", "-d")
    assert up.returncode == 0, up.stderr
    greeter = next(a for a in json.loads(cli("mesh", "--format", "json").stdout)["agents"] if a["name"] == "greeter")
    assert (greeter["resolved"], greeter["total"]) == (1, 1)
    assert greeter["dependencies"][0]["provider"] == "hello"
