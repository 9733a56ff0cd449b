"""With a managed registry and packages to install, `up` says it starts the
registry once the install is done, just before it does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_helpers import free_port
from wheelmaker import make_wheel

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(180)]


def test_registry_start_is_told_after_the_install_and_before_it_starts(tmp_path: Path, mesh_stack) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    make_wheel(tmp_path / "wheels", "tiny-one", "1.0")
    (tmp_path / "a.py").write_text("import tiny_one; print('a has tiny_one', tiny_one.VERSION)\n")
    url = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "mesh-compose.yaml").write_text(
        f"name: feedback\nregistry: {{url: '{url}', command: auto}}\n"
        "agents:\n  a: {script: a.py, python: {packages: [tiny-one]}}\n")
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "NO_COLOR": "1", "MESH_COMPOSE_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("VIRTUAL_ENV", "MESH_COMPOSE_PIP_ARGS", "MCP_MESH_REGISTRY_URL"):
        env.pop(name, None)
    with open(tmp_path / "up.out", "w+b") as out:
        done = subprocess.run([sys.executable, "-m", "meshcompose", "up", "--install", "--abort-on-exit",
                               "--find-links", str(tmp_path / "wheels")], cwd=tmp_path, env=env,
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=150)
    output = (tmp_path / "up.out").read_text(errors="replace")
    assert done.returncode == 0, output
    installed = re.search(r"tiny-one(==|-)1\.0", output)  # the installer's own line: uv's `+ tiny-one==1.0`,
    assert installed, output                                # pip's `Successfully installed tiny-one-1.0`
    order = [output.find(text) for text in (
        "installing into",
        installed[0],
        "tiny-one  ✓ installed",
        f"starting the MCP Mesh registry at {url}",
        "mesh-registry ⇒ started",
        "a has tiny_one 1.0",
    )]
    assert -1 not in order and order == sorted(order), output
