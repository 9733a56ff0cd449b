"""Replicas of a real SDK agent: each registers as an agent of its own (its
own id, port and endpoint) offering the same capability, and the dependent
resolves it from one of them."""

from __future__ import annotations

import pytest

from mesh_helpers import GREETER_ID, PROJECT, alive, free_port, ps_rows, wait_until
from meshcompose.mesh import registry

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(300)]


def test_three_replicas_register_as_three_agents_and_the_dependent_resolves_them(example):
    project, cli = example
    url = f"http://127.0.0.1:{free_port()}"
    up = cli("up", "-d", "--scale", "hello=3", "--registry-url", url, "--wait-timeout", "200")
    assert up.returncode == 0, up.stdout + up.stderr

    listed = registry.agents(url)
    assert listed is not None
    replicas = [listed[f"{PROJECT}-hello-{number}"] for number in (1, 2, 3)]
    assert all(info.healthy for info in replicas)
    endpoints = {info.endpoint for info in replicas}
    assert len(endpoints) == 3  # distinct ports: three servers, not one
    assert all("greeting" in {offer.name for offer in info.offers} for info in replicas)

    greeter = listed[GREETER_ID]
    assert greeter.healthy and (greeter.dependencies_resolved, greeter.total_dependencies) == (1, 1)
    resolution = next(r for r in greeter.resolutions if r.capability == "greeting")
    assert resolution.endpoint in endpoints

    rows = ps_rows(cli)
    assert {name: rows[name]["Mesh"] for name in ("hello-1", "hello-2", "hello-3")} == \
        dict.fromkeys(("hello-1", "hello-2", "hello-3"), "registered")
    pids = [row["Pid"] for row in rows.values()]
    assert cli("down").returncode == 0
    wait_until(lambda: not any(alive(pid) for pid in pids), 15, "every process to be gone")
