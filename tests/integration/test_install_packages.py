"""Installing for real, offline: a hand-built wheel and --no-index --find-links."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from meshcompose.errors import InstallError
from meshcompose.pyenv import install
from wheelmaker import make_wheel  # noqa: E402

TOOLS = ["pip", pytest.param("uv", marks=pytest.mark.skipif(not shutil.which("uv"), reason="uv not on PATH"))]


def make_venv(path: Path, *, with_pip: bool = False) -> str:
    argv = [sys.executable, "-m", "venv", str(path)]
    subprocess.run(argv if with_pip else [*argv, "--without-pip"], check=True)
    return str(path / "bin" / "python")


def version_in(python: str, module: str) -> str:
    done = subprocess.run([python, "-c", f"import {module}; print({module}.VERSION)"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    make_wheel(tmp_path / "wheels", "tiny-one", "1.0")
    make_wheel(tmp_path / "wheels", "tiny-two", "2.5")
    return tmp_path / "wheels"


# The installers' own progress lines for tiny-one and tiny-two, in the order they write them.
STEPS = {
    "pip": ["Processing ", "Processing ", "Installing collected packages: ",
            "Successfully installed tiny-one-1.0 tiny_two-2.5"],
    "uv": ["Resolved 2 packages", "Installed 2 packages",  # "Prepared": only when not in uv's cache
           " + tiny-one==1.0", " + tiny-two==2.5"],
}


def in_order(lines: list[str], prefixes: list[str]) -> bool:
    """Whether `lines` has, in this order, a line starting with each of `prefixes`."""
    remaining = iter(lines)
    return all(any(line.startswith(prefix) for line in remaining) for prefix in prefixes)


@pytest.mark.parametrize("tool", TOOLS)
def test_installs_from_local_wheels_with_progress(tmp_path: Path, wheels: Path, tool: str) -> None:
    python = make_venv(tmp_path / "v")  # no pip: the pip path must bootstrap it with ensurepip
    events = []
    installer_running = []  # at each step: is the installer still running (told as it writes, not at its end)?

    def progress(subject: str, status: str) -> None:
        events.append((subject, status))
        if status == install.STEP:
            installer_running.append(bool(psutil.Process().children()))

    install.install_packages(python, ["tiny-one>=1", "tiny_two"], tool=tool,
                             index_args=["--no-index", "--find-links", str(wheels)], progress=progress)
    assert version_in(python, "tiny_one") == "1.0" and version_in(python, "tiny_two") == "2.5"
    steps = [subject for subject, status in events if status == install.STEP]
    per_requirement = [event for event in events if event[1] != install.STEP]
    assert per_requirement == [("tiny-one>=1", "installing"), ("tiny_two", "installing"),
                               ("tiny-one>=1", "installed"), ("tiny_two", "installed")]
    assert in_order(steps, STEPS[tool]), steps
    assert events[:2] == per_requirement[:2] and events[-2:] == per_requirement[-2:]  # steps in between
    assert installer_running[0], "the first step was told only after the installer had exited"


@pytest.mark.parametrize("tool", TOOLS)
def test_unknown_package_keeps_tool_output(tmp_path: Path, wheels: Path, tool: str) -> None:
    python = make_venv(tmp_path / "v", with_pip=(tool == "pip"))
    events = []
    with pytest.raises(InstallError) as caught:
        install.install_packages(python, ["no-such-thing"], tool=tool,
                                 index_args=["--no-index", "--find-links", str(wheels)],
                                 progress=lambda pkg, status: events.append(status))
    assert caught.value.message == "no installable distribution found for no-such-thing"
    assert "no-such-thing" in caught.value.output
    assert events == ["installing", "failed"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("tool", TOOLS)
def test_unreachable_index_is_reported_as_such(tmp_path: Path, tool: str, monkeypatch) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    python = make_venv(tmp_path / "v", with_pip=(tool == "pip"))
    index = f"http://127.0.0.1:{closed_port()}/simple"
    extra = ["--index-url", index] + (["--retries", "0", "--timeout", "2"] if tool == "pip" else [])
    with pytest.raises(InstallError) as caught:
        install.install_packages(python, ["tiny-one"], tool=tool, index_args=extra)
    assert caught.value.message == "the package index is unreachable while installing tiny-one"
    assert "MESH_COMPOSE_PIP_ARGS" in caught.value.hint


@pytest.mark.parametrize("tool", TOOLS)
def test_create_venv_in_project_dir(tmp_path: Path, wheels: Path, tool: str) -> None:
    python = install.create_venv(tmp_path, sys.executable, tool=tool)
    assert python == str(tmp_path / ".venv" / "bin" / "python")
    assert (tmp_path / ".venv" / "pyvenv.cfg").is_file()
    install.install_packages(python, ["tiny-one"], tool=tool, index_args=["--no-index", "--find-links", str(wheels)])
    assert version_in(python, "tiny_one") == "1.0"
    assert install.create_venv(tmp_path, sys.executable, tool=tool) == python  # reused, not rebuilt
