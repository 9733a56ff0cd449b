"""On the real stack: an SDK agent that listens on every
interface although the project asked for loopback is warned about; a normal
SDK agent is not.

The SDK's own start-up race makes `stray` listen on every interface: its
pipeline runs MCP_MESH_DEBOUNCE_DELAY after the last mesh decorator, and when
`@mesh.agent` has not yet stored its server, the pipeline starts a second one
on 0.0.0.0 and registers that (under load this happens with the default 1 s).
A delay of 10 ms, and no early import of FastAPI, make it certain. Everything
(supervisor, managed registry on 127.0.0.1, agents) runs inside a private
network namespace, where 0.0.0.0 exposes nothing.
"""

from __future__ import annotations

import os
import re
import shutil

import netns
import pytest

from mesh_helpers import EXAMPLE

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(300)]

_REASON = netns.unavailable_reason()
PRE_IMPORT = "import fastapi  # noqa: F401\n"

PROJECT_FILE = """\
name: strays
python:
  requires: ">=3.11"
  packages: [mcp-mesh]
registry:
  url: http://127.0.0.1:8000   # free: the namespace has nothing else
  command: auto
agents:
  hello:
    script: hello.py
    healthcheck: {registry: true}
  stray:
    script: stray.py
    healthcheck: {registry: true}
    environment: {MCP_MESH_DEBOUNCE_DELAY: "0.01"}   # loses the SDK's start-up race
"""

SCENARIO = """
from datetime import datetime
from meshcompose.runtime.resources import LISTEN_FIRST, LISTEN_PERIOD

def healthy(name):
    return [e for e in events("strays") if e["service"] == name and e["action"] == "health_status: healthy"]

def looks_after(start, moment):
    '''The first time the supervisor looks at sockets after `moment` (its schedule: LISTEN_FIRST after
    the start, then doubling up to LISTEN_PERIOD).'''
    at, step = start + LISTEN_FIRST, LISTEN_FIRST
    while at <= moment:
        step = min(step * 2, LISTEN_PERIOD)
        at += step
    return at

up = start_up()
try:
    wait_for(lambda: healthy("hello") and healthy("stray"), 150, "both agents to register")
    wait_for(lambda: any(e["action"] == "exposed" for e in events("strays")), 60, "the exposed event")
    rows = ps_rows()
    # hello is not warned about even once its SDK server listens: wait for a look after it registered.
    from datetime import datetime
    registered = datetime.fromisoformat(healthy("hello")[0]["time"].replace("Z", "+00:00")).timestamp()
    look = looks_after(datetime.fromisoformat(rows["hello"]["StartedAt"]).timestamp(), registered)
    wait_for(lambda: time.time() > look + 2, look - time.time() + 10, "a look after hello registered")
    rows = ps_rows()
finally:
    stop(up)
print(json.dumps({"stream": stream(), "events": events("strays"), "rows": rows}))
"""


@pytest.mark.skipif(_REASON is not None, reason=f"no private network namespace: {_REASON}")
def test_an_sdk_agent_that_lost_its_start_up_race_is_warned_about(tmp_path, mesh_stack):
    shutil.copy(EXAMPLE / "hello.py", tmp_path / "hello.py")
    hello = (EXAMPLE / "hello.py").read_text()
    # Without its early FastAPI import, `stray` leaves @mesh.agent an import to lose the race on.
    assert PRE_IMPORT in hello
    stray = (hello.replace(PRE_IMPORT, "").replace('FastMCP("hello")', 'FastMCP("stray")')
             .replace('name="hello"', 'name="stray"'))
    (tmp_path / "stray.py").write_text(stray)
    (tmp_path / "mesh-compose.yaml").write_text(PROJECT_FILE)
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent)}
    env.pop("MCP_MESH_REGISTRY_URL", None)

    seen = netns.run_scenario(SCENARIO, cwd=tmp_path, env=env, timeout=280)

    # The SDK says where its second server listens: "Starting FastAPI server on 0.0.0.0:PORT". Some
    # runs log each of its lines twice, and under load it may open more than one such server: each
    # address is warned about once, as it is first seen, so there may be several warnings.
    announced = {f"0.0.0.0:{port}" for port in re.findall(
        r"^stray .*Starting FastAPI server on 0\.0\.0\.0:(\d+)$", seen["stream"], re.MULTILINE)}
    assert announced, seen["stream"]
    warned = _warned_addresses(seen["stream"])
    assert set(warned) == {"stray"}, seen["stream"]
    exposed = seen["rows"]["stray"]["Exposed"]
    assert announced <= set(exposed), (announced, exposed)
    assert sorted(warned["stray"]) == sorted(exposed)
    assert all(address.startswith("0.0.0.0:") for address in exposed), exposed
    assert {event["service"] for event in seen["events"] if event["action"] == "exposed"} == {"stray"}
    rows = seen["rows"]
    assert rows["hello"]["Exposed"] == [] and rows["mesh-registry"]["Exposed"] == []
    assert rows["hello"]["Status"] == "running (healthy)"


_WARNING = re.compile(r"^(\S+) .*warning: listening on (.+), but the project asked for 127\.0\.0\.1$", re.MULTILINE)
_ADDRESS = re.compile(r"(\S+) \(all interfaces\)")


def _warned_addresses(stream: str) -> dict[str, list[str]]:
    """Each warned agent's addresses, from lines like `stray | ... warning: listening on 0.0.0.0:1
    (all interfaces) and 0.0.0.0:2 (all interfaces), but the project asked for 127.0.0.1`."""
    warned: dict[str, list[str]] = {}
    for agent, where in _WARNING.findall(stream):
        warned.setdefault(agent, []).extend(_ADDRESS.findall(where))
    return warned
