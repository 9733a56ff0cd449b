"""`up --install` shows the installer's own progress lines as it works, before
any agent starts, with pip and with uv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmaker import make_wheel

pytestmark = pytest.mark.timeout(180)

UV = shutil.which("uv")
TOOLS = ["pip", pytest.param("uv", marks=pytest.mark.skipif(not UV, reason="uv not on PATH"))]
# What each installer writes while installing tiny-one from a local wheel, in order.
STEPS = {"pip": ["Processing ", "Installing collected packages: tiny-one", "Successfully installed tiny-one-1.0"],
         "uv": ["Resolved 1 package", "Installed 1 package", "+ tiny-one==1.0"]}  # "Prepared": when not cached


def path_for(tool: str) -> str:
    """PATH with uv (so it is chosen) or without any directory that has it (so pip is)."""
    directories = os.environ["PATH"].split(os.pathsep)
    if tool == "uv":
        return os.pathsep.join([str(Path(UV).parent), *directories])  # type: ignore[arg-type]
    return os.pathsep.join(d for d in directories if not (Path(d) / "uv").exists())


def install_and_run(root: Path, tool: str, *extra: str) -> str:
    """`up --install --abort-on-exit` with the wheel directory; stdout and stderr as one stream."""
    env = {**os.environ, "PATH": path_for(tool), "NO_COLOR": "1", "MESH_COMPOSE_CACHE_DIR": str(root / "cache")}
    env.pop("VIRTUAL_ENV", None)
    env.pop("MESH_COMPOSE_PIP_ARGS", None)
    with open(root / "up.out", "w+b") as out:
        done = subprocess.run([sys.executable, "-m", "meshcompose", "up", "--install", "--abort-on-exit",
                               "--find-links", str(root / "wheels"), *extra], cwd=root, env=env,
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=150)
    output = (root / "up.out").read_text(errors="replace")
    assert done.returncode == 0, output
    return output


def tiny_project(project) -> None:
    """A project .venv without tiny-one (nor pip: the pip path bootstraps it), an agent that needs it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project.root / ".venv")], check=True)
    make_wheel(project.root / "wheels", "tiny-one", "1.0")
    project.script("a.py", "import tiny_one; print('a has tiny_one', tiny_one.VERSION)\n")
    project.compose({"a": {"script": "a.py", "python": {"packages": ["tiny-one"]}}}, python={})


def positions(output: str, texts: list[str]) -> list[int]:
    """Where each of `texts` is first found, each searched after the one before."""
    found, start = [], 0
    for text in texts:
        at = output.find(text, start)
        assert at >= 0, f"{text!r} not found (in order) in:\n{output}"
        found.append(at)
        start = at + len(text)
    return found


@pytest.mark.parametrize("tool", TOOLS)
def test_installer_progress_lines_come_in_order_before_the_agent_starts(project, tool: str) -> None:
    tiny_project(project)
    output = install_and_run(project.root, tool)
    steps = positions(output, [f"installing into {project.root / '.venv'}", *STEPS[tool]])
    assert steps[-1] < output.index("a ⇒ started") < output.index("a has tiny_one 1.0"), output
