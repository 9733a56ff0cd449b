"""Interpreter resolution: each rule and the order between them.

Linux cases use real venvs (`python -m venv --without-pip`) in tmp_path;
Windows and macOS layouts use fake trees behind the `Platform` seam.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshcompose import model
from meshcompose.errors import InterpreterNotFoundError, InterpreterVersionError, UnknownAgentError
from meshcompose.pyenv import resolve as pyenv
from meshcompose.pyenv.resolve import Platform

PYENV = Path.home() / ".pyenv" / "versions"


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def agent(name: str, working_dir: Path, **kw) -> model.Agent:
    return model.Agent(name, model.RunKind.SCRIPT, str(working_dir / f"{name}.py"), working_dir=working_dir, **kw)


def project(directory: Path, *agents: model.Agent, **kw) -> model.Project:
    return model.Project("p", directory, (), {a.name: a for a in agents}, **kw)


def bin_dir(tmp_path: Path, *names: str) -> Path:
    """A PATH directory holding symlinks to the running Python under `names`."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name in names:
        if not (directory / name).exists():
            (directory / name).symlink_to(os.path.realpath(sys.executable))
    return directory


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "proj" / "agents" / "a").mkdir(parents=True)
    return tmp_path / "proj"


def resolve(proj: model.Project, tmp_path: Path, environ=None, **kw):
    env = {"PATH": str(bin_dir(tmp_path, "python3"))} if environ is None else environ
    return pyenv.resolve_project(proj, environ=env, cache_dir=tmp_path / "cache", **kw)


def test_agent_interpreter_wins_over_everything(tree: Path, tmp_path: Path) -> None:
    make_venv(tree / ".venv")
    chosen = make_venv(tmp_path / "chosen")
    proj = project(tree, agent("a", tree / "agents" / "a", interpreter=str(tmp_path / "chosen")),
                   interpreter=".venv")
    got = resolve(proj, tmp_path)["a"]
    assert got.executable == str(chosen)
    assert got.source == "agent interpreter of 'a'"
    assert got.is_venv and got.prefix == str(tmp_path / "chosen")


def test_project_interpreter_relative_to_project_dir_beats_venv_dirs(tree: Path, tmp_path: Path) -> None:
    make_venv(tree / "agents" / "a" / ".venv")
    chosen = make_venv(tree / "envs" / "main")
    proj = project(tree, agent("a", tree / "agents" / "a"), interpreter="envs/main/bin/python")
    got = resolve(proj, tmp_path)["a"]
    assert (got.executable, got.source) == (str(chosen), "project interpreter")


def test_interpreter_as_command_name_on_path(tree: Path, tmp_path: Path) -> None:
    directory = bin_dir(tmp_path, "python3", "mypython")
    proj = project(tree, agent("a", tree, interpreter="mypython"))
    got = resolve(proj, tmp_path, environ={"PATH": str(directory)})["a"]
    assert got.executable == str(directory / "mypython")


def test_missing_interpreter_names_what_was_tried(tree: Path, tmp_path: Path) -> None:
    proj = project(tree, agent("a", tree, interpreter="no-such-python"))
    with pytest.raises(InterpreterNotFoundError) as caught:
        resolve(proj, tmp_path)
    assert "'no-such-python' from agent interpreter of 'a' not found" in caught.value.message


def test_venv_dir_without_interpreter_is_an_error_when_named(tree: Path, tmp_path: Path) -> None:
    (tree / "broken").mkdir()
    proj = project(tree, agent("a", tree), interpreter="broken")
    with pytest.raises(InterpreterNotFoundError, match="broken"):
        resolve(proj, tmp_path)


def test_nearest_venv_wins_and_dot_venv_before_venv(tree: Path, tmp_path: Path) -> None:
    make_venv(tree / ".venv")
    make_venv(tree / "agents" / "venv")
    make_venv(tree / "agents" / ".venv")
    proj = project(tree, agent("a", tree / "agents" / "a"), agent("b", tree))
    got = resolve(proj, tmp_path)
    assert got["a"].executable == str(tree / "agents" / ".venv" / "bin" / "python")
    assert got["a"].source == f".venv in {tree / 'agents'}"
    assert got["b"].executable == str(tree / ".venv" / "bin" / "python")


def test_venv_search_stops_at_project_dir(tree: Path, tmp_path: Path) -> None:
    make_venv(tree.parent / ".venv")  # above the project: not used
    proj = project(tree, agent("a", tree / "agents" / "a"))
    got = resolve(proj, tmp_path)["a"]
    assert got.source == "system python3 on PATH" and not got.is_venv


def test_active_virtual_env_before_system(tree: Path, tmp_path: Path) -> None:
    active = make_venv(tmp_path / "active")
    proj = project(tree, agent("a", tree))
    environ = {"PATH": str(bin_dir(tmp_path, "python3")), "VIRTUAL_ENV": str(tmp_path / "active")}
    got = resolve(proj, tmp_path, environ=environ)["a"]
    assert (got.executable, got.source) == (str(active), "active venv (VIRTUAL_ENV)")


def test_virtual_env_that_is_not_a_venv_is_ignored(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "fake" / "bin").mkdir(parents=True)
    (tmp_path / "fake" / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    environ = {"PATH": str(bin_dir(tmp_path, "python3")), "VIRTUAL_ENV": str(tmp_path / "fake")}
    got = resolve(project(tree, agent("a", tree)), tmp_path, environ=environ)["a"]
    assert got.source == "system python3 on PATH"


def test_system_python3_then_python(tree: Path, tmp_path: Path) -> None:
    directory = bin_dir(tmp_path, "python")
    got = resolve(project(tree, agent("a", tree)), tmp_path, environ={"PATH": str(directory)})["a"]
    assert got.source == "system python on PATH"


def test_no_python_at_all(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFoundError, match="python3, python"):
        resolve(project(tree, agent("a", tree)), tmp_path, environ={"PATH": str(tmp_path / "empty")})


def test_command_agents_are_skipped_and_sharing_is_reported(tree: Path, tmp_path: Path) -> None:
    make_venv(tree / ".venv")
    cmd = model.Agent("c", model.RunKind.COMMAND, command=("true",))
    proj = project(tree, agent("a", tree), agent("b", tree / "agents" / "a"), cmd)
    got = resolve(proj, tmp_path)
    assert set(got) == {"a", "b"}
    assert got["a"].agents == ("a", "b")
    [env] = pyenv.environments(got)
    assert env.agents == ("a", "b") and env.kind == "venv"


def test_selection_limits_resolution(tree: Path, tmp_path: Path) -> None:
    proj = project(tree, agent("a", tree), agent("b", tree, interpreter="nope"))
    assert set(resolve(proj, tmp_path, names=["a"])) == {"a"}
    with pytest.raises(UnknownAgentError) as caught:
        resolve(proj, tmp_path, names=["aa"])
    assert caught.value.hint == "did you mean 'a'?"


def installed_as_pip_leaves_it(venv_python: Path, name: str, version: str) -> None:
    """The metadata an installer writes into the venv's site-packages, which the probe reads."""
    [site_packages] = venv_python.parent.parent.glob("lib/python*/site-packages")
    dist_info = site_packages / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_packages_missing_and_version_mismatch(tree: Path, tmp_path: Path) -> None:
    venv = make_venv(tree / ".venv")
    installed_as_pip_leaves_it(venv, "Tiny_One", "2.0")
    reqs = ("tiny-one>=1", "TINY.ONE<1", "definitely-not-installed", "tiny_one ; python_version < '3'")
    got = resolve(project(tree, agent("a", tree, python=model.PythonRequirements(packages=reqs))), tmp_path)["a"]
    assert got.missing == ("TINY.ONE<1", "definitely-not-installed")
    assert got.installed == {"tiny-one": "2.0"}


# --- Windows and macOS layouts behind the Platform seam ----------------------


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(0o755)
    return path


WINDOWS = Platform("windows")
MAC = Platform("darwin")


def test_windows_venv_layout(tree: Path) -> None:
    exe = touch(tree / ".venv" / "Scripts" / "python.exe")
    touch(tree / ".venv" / "bin" / "python")  # a POSIX layout must not be used on Windows
    found = pyenv.discover(agent("a", tree), project(tree), environ={}, platform=WINDOWS)
    assert found.argv == (str(exe),)


def test_windows_prefers_py_launcher_and_skips_store_stub(tree: Path, tmp_path: Path) -> None:
    stub = tmp_path / "Microsoft" / "WindowsApps"
    touch(stub / "python3.exe")
    real = touch(tmp_path / "Python312" / "python.exe")
    environ = {"PATH": f"{stub};{real.parent}"}
    found = pyenv.discover(agent("a", tree), project(tree), environ=environ, platform=WINDOWS)
    assert found.argv == (str(real),) and found.source == "system python on PATH"
    launcher = touch(tmp_path / "Windows" / "py.exe")
    environ["PATH"] += f";{launcher.parent}"
    found = pyenv.discover(agent("a", tree), project(tree), environ=environ, platform=WINDOWS)
    assert found.argv == (str(launcher), "-3") and found.source == "py -3 launcher"


def test_windows_path_lookup_adds_exe(tmp_path: Path) -> None:
    exe = touch(tmp_path / "bin" / "python3.12.exe")
    assert pyenv.find_on_path("python3.12", {"PATH": str(exe.parent)}, WINDOWS) == str(exe)


def test_mac_venv_with_only_python3(tree: Path) -> None:
    exe = touch(tree / "venv" / "bin" / "python3")
    found = pyenv.discover(agent("a", tree), project(tree), environ={}, platform=MAC)
    assert found.argv == (str(exe),) and found.source == f"venv in {tree}"


def test_mac_framework_python_on_path(tree: Path, tmp_path: Path) -> None:
    framework = tmp_path / "Library/Frameworks/Python.framework/Versions/3.12/bin"
    exe = touch(framework / "python3")
    found = pyenv.discover(agent("a", tree), project(tree), environ={"PATH": f"/nonexistent:{framework}"},
                           platform=MAC)
    assert found.argv == (str(exe),)


# --- real interpreters: version acceptance and rejection ----------------------


def pyenv_python(version: str) -> Path:
    exe = PYENV / version / "bin" / "python"
    if not exe.exists():
        pytest.skip(f"Python {version} is not installed under {PYENV}")
    return exe


@pytest.mark.parametrize("version", ["3.10.13", "3.13.0"])
def test_new_pythons_pass_default_requirement(tree: Path, tmp_path: Path, version: str) -> None:
    exe = pyenv_python(version)
    got = resolve(project(tree, agent("a", tree, interpreter=str(exe))), tmp_path)["a"]
    assert got.version_text == version and got.requires == ">=3.7"


@pytest.mark.parametrize("version", ["3.6.15", "2.7.18"])
def test_old_pythons_fail_with_a_clear_message(tree: Path, tmp_path: Path, version: str) -> None:
    exe = pyenv_python(version)
    proj = project(tree, agent("a", tree, interpreter=str(exe)), agent("b", tree, interpreter=str(exe)))
    with pytest.raises(InterpreterVersionError) as caught:
        resolve(proj, tmp_path)
    message = caught.value.message
    assert str(exe) in message and f"Python {version}" in message and ">=3.7" in message
    assert "agent interpreter of 'a'" in message and "a, b" in message


def test_agent_requirement_is_checked_as_a_version_not_a_string(tree: Path, tmp_path: Path) -> None:
    exe = pyenv_python("3.10.13")  # "3.10" < "3.9" as strings: must still pass >=3.9
    ok = project(tree, agent("a", tree, interpreter=str(exe), python=model.PythonRequirements(requires=">=3.9")))
    assert resolve(ok, tmp_path)["a"].version == (3, 10, 13)
    strict = project(tree, agent("a", tree, interpreter=str(exe), python=model.PythonRequirements(requires=">=3.11")))
    with pytest.raises(InterpreterVersionError, match=r"3\.10\.13"):
        resolve(strict, tmp_path)
