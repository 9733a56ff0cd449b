"""`up` deletes nothing before the run is committed: a user who quits at the
install prompt finds the project as it was, the managed registry's database
included (it is discarded only once the run starts)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from meshcompose.app.options import Decision, InstallOptions, UpOptions
from meshcompose.app.up import up
from meshcompose.config import loader
from meshcompose.control import paths
from meshcompose.errors import MissingPackagesError
from meshcompose.mesh import registry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_quitting_at_the_install_prompt_leaves_the_registry_database(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MCP_MESH_REGISTRY_URL", raising=False)  # the file's URL, where nothing answers
    (tmp_path / "a.py").write_text("print('a')\n")
    (tmp_path / "mesh-compose.yaml").write_text(
        f"registry: {{url: 'http://127.0.0.1:{free_port()}', command: [{sys.executable}, -c, 'pass']}}\n"
        "agents:\n"
        f"  a: {{script: a.py, interpreter: {sys.executable}, python: {{packages: [surely-not-installed-pkg]}}}}\n")
    project = loader.load_project([tmp_path / "mesh-compose.yaml"], environ={})
    assert paths.state_dir(project.directory, project.name) == project.state_dir  # made private, as `up` does
    database = project.state_dir / registry.DATABASE_FILE
    database.write_bytes(b"registrations kept until the run starts")
    asked = []

    def quit_(question: object) -> Decision:
        asked.append(question)
        return Decision.QUIT

    with pytest.raises(MissingPackagesError):
        up(project, UpOptions(detach=True, install=InstallOptions(decide=quit_)))
    assert asked, "the install prompt was not reached"
    assert database.read_bytes() == b"registrations kept until the run starts"
