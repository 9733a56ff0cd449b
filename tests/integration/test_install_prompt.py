"""The install decision: i/v/c/q on a terminal, --install/--no-install without one.

The CLI builds the install options from its arguments (`cli.options`), the
application settles the environments with them (`app.environments`), and the
CLI's prompt and report render the conversation. Installs are real (offline,
from a hand-built wheel); the prompt is answered through injected input and,
end to end, through a pseudo-terminal.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import run_in_pty

from meshcompose import model
from meshcompose.app import environments
from meshcompose.cli.options import install_options
from meshcompose.errors import MissingPackagesError
from wheelmaker import make_wheel  # noqa: E402


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("MESH_COMPOSE_PIP_ARGS", raising=False)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    make_wheel(tmp_path / "wheels", "tiny-one", "1.0")
    return tmp_path / "wheels"


def make_project(directory: Path, packages=("tiny-one>=1",), venv: bool = True) -> model.Project:
    directory.mkdir(parents=True, exist_ok=True)
    if venv:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory / ".venv")], check=True)
    agents = {name: model.Agent(name, model.RunKind.SCRIPT, f"{name}.py", working_dir=directory,
                                python=model.PythonRequirements(packages=tuple(packages))) for name in ("a", "b")}
    return model.Project("p", directory, (), agents)


def options(wheels: Path, **flags) -> argparse.Namespace:
    return argparse.Namespace(install=False, no_install=False, find_links=[str(wheels)], no_color=True, **flags)


def answers(*replies: str):
    queue, prompts = list(replies), []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return queue.pop(0)

    return ask, prompts


def ensure(proj, args, **kw):
    out = io.StringIO()
    result = environments.ensure_environments(proj, None, install_options(args, out, **kw))
    return result, out.getvalue()


def test_no_terminal_and_no_flag_stops_with_the_fix_command(tmp_path: Path, wheels: Path) -> None:
    proj = make_project(tmp_path / "p")
    with pytest.raises(MissingPackagesError) as caught:
        ensure(proj, options(wheels), interactive=False)
    error, venv_python = caught.value, str(tmp_path / "p" / ".venv" / "bin" / "python")
    assert error.agents == ["a", "b"] and error.missing == ["tiny-one>=1"]
    assert venv_python in error.fix and "install" in error.fix and "'tiny-one>=1'" in error.fix
    assert f"run `{error.fix}`" in error.hint and "--install" in error.hint


def test_no_install_flag_continues_and_summarizes_once_per_environment(tmp_path: Path, wheels: Path) -> None:
    args = argparse.Namespace(install=False, no_install=True, find_links=[], no_color=True)
    resolved, text = ensure(make_project(tmp_path / "p"), args, interactive=False)
    assert resolved["a"].missing == ("tiny-one>=1",)
    assert text.count("python 3.") == 1 and "2 agents (a, b)" in text and "missing: tiny-one>=1" in text


def test_install_flag_installs_and_reprobes(tmp_path: Path, wheels: Path) -> None:
    resolved, text = ensure(make_project(tmp_path / "p"),
                            argparse.Namespace(install=True, no_install=False, find_links=[str(wheels)],
                                               no_color=True), interactive=False)
    assert resolved["a"].missing == () and resolved["b"].installed == {"tiny-one": "1.0"}
    assert "tiny-one>=1  ✓ installed" in text and text.rstrip().endswith("ok")


@pytest.mark.parametrize("reply", ["", "i", "I"])
def test_enter_or_i_installs(tmp_path: Path, wheels: Path, reply: str) -> None:
    ask, prompts = answers(reply)
    resolved, _ = ensure(make_project(tmp_path / "p"), options(wheels), interactive=True, ask=ask)
    assert resolved["a"].missing == ()
    assert len(prompts) == 1 and prompts[0].endswith("Choice [i/c/q]: ")  # a venv: no `v`
    assert "Agents a, b need packages missing from" in prompts[0] and "venv Python" in prompts[0]


def test_c_continues_without_installing(tmp_path: Path, wheels: Path) -> None:
    ask, _ = answers("c")
    resolved, text = ensure(make_project(tmp_path / "p"), options(wheels), interactive=True, ask=ask)
    assert resolved["a"].missing == ("tiny-one>=1",) and "continuing without tiny-one>=1" in text


def test_q_quits(tmp_path: Path, wheels: Path) -> None:
    ask, _ = answers("q")
    with pytest.raises(MissingPackagesError):
        ensure(make_project(tmp_path / "p"), options(wheels), interactive=True, ask=ask)


def test_v_is_refused_for_a_venv_and_asked_again(tmp_path: Path, wheels: Path) -> None:
    ask, prompts = answers("v", "x", "c")
    ensure(make_project(tmp_path / "p"), options(wheels), interactive=True, ask=ask)
    assert len(prompts) == 3 and prompts[-1] == "Choice [i/c/q]: "


def test_v_creates_a_project_venv_for_a_system_python(tmp_path: Path, wheels: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "sysbin"
    system.mkdir()
    (system / "python3").symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", f"{system}{os.pathsep}{os.environ['PATH']}")
    proj = make_project(tmp_path / "p", venv=False)
    ask, prompts = answers("v")
    resolved, text = ensure(proj, options(wheels), interactive=True, ask=ask)
    assert prompts[0].endswith("Choice [v/i/c/q]: ") and "system Python" in prompts[0]
    assert resolved["a"].executable == str(tmp_path / "p" / ".venv" / "bin" / "python")
    assert resolved["a"].source == f".venv in {tmp_path / 'p'}" and resolved["a"].missing == ()


def test_enter_for_a_system_python_makes_a_venv_not_a_system_install(
        tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default must be the safe choice: the system interpreter stays untouched."""
    system = tmp_path / "sysbin"
    system.mkdir()
    (system / "python3").symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", f"{system}{os.pathsep}{os.environ['PATH']}")
    ask, prompts = answers("")
    resolved, _ = ensure(make_project(tmp_path / "p", venv=False), options(wheels), interactive=True, ask=ask)
    assert "  v  create" in prompts[0] and prompts[0].split("  v  ")[1].split("\n")[0].endswith("(default)")
    assert resolved["a"].executable == str(tmp_path / "p" / ".venv" / "bin" / "python")


# --- a real pseudo-terminal ----------------------------------------------------

DRIVER = """
import argparse, sys
from pathlib import Path
from meshcompose import model
from meshcompose.app.environments import ensure_environments
from meshcompose.cli.options import install_options
from meshcompose.errors import MeshComposeError
d = Path(sys.argv[1])
agent = model.Agent("a", model.RunKind.SCRIPT, "a.py", working_dir=d,
                    python=model.PythonRequirements(packages=("tiny-one",)))
args = argparse.Namespace(install=False, no_install=False, find_links=[sys.argv[2]], no_color=True)
try:
    result = ensure_environments(model.Project("p", d, (), {"a": agent}), None, install_options(args, sys.stderr))
    print("RESULT missing=%r" % (result["a"].missing,))
except MeshComposeError as error:
    print("ERROR " + error.message)
    sys.exit(4)
"""


@pytest.mark.parametrize("reply, code, expect", [
    (b"\r", 0, "RESULT missing=()"),
    (b"q\r", 4, "ERROR "),
    (b"c\r", 0, "RESULT missing=('tiny-one',)"),
])
def test_prompt_through_a_pseudo_terminal(tmp_path: Path, wheels: Path, reply: bytes, code: int, expect: str) -> None:
    make_project(tmp_path / "p")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    status, output = run_in_pty([sys.executable, str(driver), str(tmp_path / "p"), str(wheels)], reply)
    assert "Choice [i/c/q]:" in output
    assert expect in output, output
    assert status == code


def test_externally_managed_system_python_offers_v_instead(tmp_path: Path, wheels: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from meshcompose.pyenv import install

    system = tmp_path / "sysbin"
    system.mkdir()
    (system / "python3").symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", f"{system}{os.pathsep}{os.environ['PATH']}")
    real_install = install.install_packages

    def refuse_outside_venvs(executable, requirements, **kw):
        if ".venv" not in executable:  # what pip says on a PEP 668 system Python
            raise install._failure(executable, requirements, ["pip"], "error: externally-managed-environment")
        return real_install(executable, requirements, **kw)

    monkeypatch.setattr(install, "install_packages", refuse_outside_venvs)
    proj = make_project(tmp_path / "p", venv=False)
    ask, prompts = answers("i", "v")
    resolved, text = ensure(proj, options(wheels), interactive=True, ask=ask)
    assert "externally managed system Python (PEP 668)" in text
    assert prompts[1].endswith("Choice [v/c/q]: ") and "(default)" in prompts[1].split("  v  ")[1].split("\n")[0]
    assert resolved["a"].executable.endswith(".venv/bin/python") and resolved["a"].missing == ()
    shutil.rmtree(tmp_path / "p" / ".venv")
    install_flag = argparse.Namespace(install=True, no_install=False, find_links=[str(wheels)], no_color=True)
    resolved, _ = ensure(proj, install_flag, interactive=False)  # without a terminal: the default, a .venv
    assert resolved["a"].executable.endswith(".venv/bin/python") and resolved["a"].missing == ()


# --- without a terminal: the same choice as the default, never an externally managed Python ----------


@pytest.fixture
def managed_python(tmp_path: Path) -> Path:
    """A system Python whose standard library carries PEP 668's EXTERNALLY-MANAGED
    marker: a copy of this interpreter's binary over a prefix that links to its
    standard library (site-packages included, so an install would land there)."""
    prefix, stdlib = tmp_path / "managed", Path(sysconfig_stdlib())
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib" / stdlib.name).mkdir(parents=True)
    for entry in stdlib.iterdir():
        (prefix / "lib" / stdlib.name / entry.name).symlink_to(entry)
    (prefix / "lib" / stdlib.name / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=use a venv\n")
    shutil.copy2(os.path.realpath(sys.executable), prefix / "bin" / "python3")
    return prefix / "bin" / "python3"


def sysconfig_stdlib() -> str:
    base = subprocess.run([os.path.realpath(sys.executable), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                          capture_output=True, text=True, check=True)
    return base.stdout.strip()


def on_path(monkeypatch: pytest.MonkeyPatch, python: Path) -> None:
    monkeypatch.setenv("PATH", f"{python.parent}{os.pathsep}{os.environ['PATH']}")


def test_install_flag_on_a_system_python_makes_the_project_venv_as_the_prompt_would(
        tmp_path: Path, wheels: Path, managed_python: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(monkeypatch, managed_python)
    flag = argparse.Namespace(install=True, no_install=False, find_links=[str(wheels)], no_color=True)
    resolved, text = ensure(make_project(tmp_path / "p", venv=False), flag, interactive=False)
    assert resolved["a"].executable == str(tmp_path / "p" / ".venv" / "bin" / "python")
    assert resolved["a"].missing == () and f"created {tmp_path / 'p' / '.venv'}" in text


def test_no_terminal_on_a_system_python_hints_at_the_project_venv(
        tmp_path: Path, wheels: Path, managed_python: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(monkeypatch, managed_python)
    with pytest.raises(MissingPackagesError) as caught:
        ensure(make_project(tmp_path / "p", venv=False), options(wheels), interactive=False)
    venv = tmp_path / "p" / ".venv"
    made_by = (f"-m venv {venv}", f"venv --quiet --python {managed_python} {venv}")  # pip's venv or uv's
    assert any(command in caught.value.fix for command in made_by), caught.value.fix
    assert str(venv / "bin" / "python") in caught.value.fix and "tiny-one>=1" in caught.value.fix
    assert f"{managed_python} -m pip install" not in caught.value.fix


def test_an_externally_managed_interpreter_is_never_installed_into(
        tmp_path: Path, wheels: Path, managed_python: Path) -> None:
    """Named as the agents' interpreter, so no venv is offered: the marker stops
    the install before any installer runs."""
    from meshcompose.errors import ExternallyManagedError

    proj = make_project(tmp_path / "p", venv=False)
    proj = model.Project("p", proj.directory, (), proj.agents, interpreter=str(managed_python))
    flag = argparse.Namespace(install=True, no_install=False, find_links=[str(wheels)], no_color=True)
    with pytest.raises(ExternallyManagedError) as caught:
        ensure(proj, flag, interactive=False)
    assert "EXTERNALLY-MANAGED" in caught.value.message and caught.value.output == ""


@pytest.mark.parametrize("in_mesh", [False, True])
def test_the_prompt_speaks_of_the_registry_only_for_mesh_agents(tmp_path: Path, wheels: Path, in_mesh: bool) -> None:
    packages = ("tiny-one>=1", "mcp-mesh") if in_mesh else ("tiny-one>=1",)
    ask, prompts = answers("c")
    ensure(make_project(tmp_path / "p", packages=packages), options(wheels), interactive=True, ask=ask)
    assert ("registry" in prompts[0]) is in_mesh, prompts[0]
