"""The project's SDK agents give the SDK's start-up race nothing to lose, on
each SDK the stack installs.

`@mesh.agent` schedules the SDK's start-up pipeline MCP_MESH_DEBOUNCE_DELAY
ahead, then imports FastAPI and its kin and stores its server. When the
pipeline runs first, it starts a second server on 0.0.0.0 (docs/mesh.md,
"Three traps"). Those imports take 0.13 s on a quiet machine and about 1 s
beside eight busy loops; beside the suite's workers they once took longer
than the 3 s the mesh tier allows. Every agent here imports them before its
decorators, so the window holds no import. That is checked without timing,
so a busy machine cannot change the outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mesh_helpers import EXAMPLE

pytestmark = [pytest.mark.mesh, pytest.mark.every_sdk, pytest.mark.timeout(120)]

TESTS = Path(__file__).parent
AGENTS = sorted([*EXAMPLE.glob("*.py"), *(TESTS / "three").glob("*.py"), *(TESTS / "chain").glob("*.py")])

# Runs an agent script and records which modules its main thread imports from
# the moment `@mesh.agent` is applied until the SDK stores the agent's server
# (the server's own thread imports more meanwhile, racing nothing); prints
# them and exits.
PROBE = r"""
import json, os, runpy, sys, threading
import mesh
from _mcp_mesh.engine.decorator_registry import DecoratorRegistry

imported = []
recording = False

class Recorder:
    def find_spec(self, name, path=None, target=None):
        if recording and threading.current_thread() is threading.main_thread():
            imported.append(name)
        return None

sys.meta_path.insert(0, Recorder())
sdk_agent = mesh.agent

def agent(*args, **kwargs):
    decorate = sdk_agent(*args, **kwargs)
    def apply(target):
        global recording
        recording = True
        return decorate(target)
    return apply

def store(server_info):
    print(json.dumps(imported), flush=True)
    os._exit(0)

mesh.agent = agent
DecoratorRegistry.store_immediate_uvicorn_server = store
runpy.run_path(sys.argv[1], run_name="__main__")
"""

# The SDK's own packages: what its decorator imports of itself is small.
SDK_PACKAGES = {"mesh", "_mcp_mesh"}


@pytest.mark.parametrize("script", AGENTS, ids=lambda path: str(path.relative_to(TESTS.parent.parent)))
def test_nothing_is_imported_between_the_agent_decorator_and_its_server(script, mesh_stack, tmp_path):
    env = {**os.environ, "MCP_MESH_REGISTRY_URL": "http://127.0.0.1:9", "MCP_MESH_HTTP_HOST": "127.0.0.1",
           "MCP_MESH_HTTP_PORT": "0", "MCP_MESH_DEBOUNCE_DELAY": "60", "MCP_MESH_LOG_LEVEL": "WARNING"}
    probe = subprocess.run([str(mesh_stack.python), "-c", PROBE, str(script)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=100, stdin=subprocess.DEVNULL)
    assert probe.returncode == 0, probe.stderr
    imported = json.loads(probe.stdout.splitlines()[-1])
    outside_the_sdk = sorted({name for name in imported if name.split(".")[0] not in SDK_PACKAGES})
    assert outside_the_sdk == [], f"{script.name} leaves these to @mesh.agent: {outside_the_sdk}"
