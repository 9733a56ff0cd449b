"""The README's Quickstart command, exactly as written, on a copy of the repository.

It must not need the system interpreter to accept packages (Debian refuses
`pip install .` with externally-managed-environment): it makes its own venv,
installs the project from the copy (dependencies from the package index) and
runs the demo until the summarizer, the last agent in the chain, has spoken.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def quickstart_command() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1]
    match = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert match, "the Quickstart has no sh block"
    return match.group(1).strip()


def copy_repository(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(sys.platform == "win32", reason="the Quickstart is a POSIX shell line")
def test_readme_quickstart_runs_the_demo_in_its_own_venv(tmp_path: Path) -> None:
    command = quickstart_command()
    assert "pip install" not in command.split("&&")[0] and ".venv/bin/pip install" in command
    repo = tmp_path / "repo"
    copy_repository(repo)
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(DEMO_API_PORT=str(free_port()), NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # python3 is the system interpreter, whatever venv runs the tests.
    env["PATH"] = os.pathsep.join(part for part in env["PATH"].split(os.pathsep) if "venv" not in part)
    out = open(tmp_path / "quickstart.out", "w+b")
    proc = subprocess.Popen(["bash", "-c", command], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if re.search(r"summarizer\s*\|", (tmp_path / "quickstart.out").read_text(errors="replace")):
                break
            time.sleep(0.5)
        output = (tmp_path / "quickstart.out").read_text(errors="replace")
        assert proc.poll() is None, f"the Quickstart ended early ({proc.returncode}):\n{output[-3000:]}"
        assert re.search(r"summarizer\s*\|", output), output[-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
    assert (repo / ".venv" / "bin" / "mesh-compose").exists()
