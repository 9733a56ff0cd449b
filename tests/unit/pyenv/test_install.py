"""The installer's commands and how its failures are explained, without running it
(the real installs are in tests/integration/test_install_packages.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcompose.errors import InstallError
from meshcompose.pyenv import install


@pytest.mark.parametrize("output", [
    "error: externally-managed-environment\n\n× This environment is externally managed",
    "error: The interpreter at /usr is externally managed, and indicates the following:",
])
def test_externally_managed_python_is_explained(output: str) -> None:
    error = install._failure("/usr/bin/python3", ["x"], ["pip"], output)
    assert "externally managed system Python (PEP 668)" in error.message
    assert "`v`" in error.hint and "-m venv .venv" in error.hint
    assert error.output == output


def test_install_command_is_exact() -> None:
    assert install.install_command("/v/bin/python", ["a>=1"], tool="pip") == [
        "/v/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "a>=1"]
    uv = install.install_command("/v/bin/python", ["a"], index_args=["--no-index"], tool="uv")
    assert uv[1:] == ["pip", "install", "--python", "/v/bin/python", "--no-index", "a"]
    assert install.format_command(["py", "a>=1"]) == "py 'a>=1'"


def test_create_venv_failure_is_an_install_error(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="could not create a virtual environment"):
        install.create_venv(tmp_path, "/bin/false", tool="pip")

