"""The probe itself and its on-disk cache, against real interpreters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshcompose import model
from meshcompose.config import memo
from meshcompose.errors import InterpreterProbeError
from meshcompose.pyenv import resolve
from meshcompose.pyenv.probe import probe_interpreter

PYENV = Path.home() / ".pyenv" / "versions"


class CountingProbe:
    def __init__(self) -> None:
        self.calls: list = []

    def __call__(self, argv, packages, modules=()):
        self.calls.append(tuple(argv))
        return probe_interpreter(argv, packages, modules)


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def one_agent_project(directory: Path, packages=()) -> model.Project:
    a = model.Agent("a", model.RunKind.SCRIPT, "a.py", working_dir=directory,
                    python=model.PythonRequirements(packages=tuple(packages)))
    return model.Project("p", directory, (), {"a": a})


@pytest.mark.parametrize("version", ["2.7.18", "3.6.15", "3.8.18", "3.13.0"])
def test_probe_runs_on_old_and_new_pythons(version: str) -> None:
    exe = PYENV / version / "bin" / "python"
    if not exe.exists():
        pytest.skip(f"Python {version} not installed")
    result = probe_interpreter([str(exe)], ["pip", "Not-Installed"], ["wave", "no_module_has_this_name"])
    assert result.version_text == version
    assert result.importable == ("wave",)
    assert not result.is_venv
    assert "pip" in result.installed and "not-installed" not in result.installed
    assert result.markers["python_version"] == ".".join(version.split(".")[:2])


def test_probe_sees_venv_and_base(tmp_path: Path) -> None:
    exe = make_venv(tmp_path / "v")
    result = probe_interpreter([str(exe)], [])
    assert result.is_venv and result.prefix == str(tmp_path / "v")
    assert result.base_prefix == sys.base_prefix


def test_output_before_sentinel_is_ignored(tmp_path: Path) -> None:
    exe = make_venv(tmp_path / "v")
    site = next((tmp_path / "v" / "lib").glob("python*/site-packages"))
    (site / "noisy.pth").write_text("import sys; sys.stdout.write('hello from a pth file\\n')\n")
    assert probe_interpreter([str(exe)], []).is_venv


def test_non_python_executable_is_a_probe_error(tmp_path: Path) -> None:
    with pytest.raises(InterpreterProbeError, match="printed no probe result|could not run"):
        probe_interpreter(["/bin/echo"], [])
    with pytest.raises(InterpreterProbeError, match="No such file"):
        probe_interpreter([str(tmp_path / "missing")], [])


def test_warm_resolution_does_not_probe(tmp_path: Path) -> None:
    make_venv(tmp_path / ".venv")
    proj, probe = one_agent_project(tmp_path, ["pip"]), CountingProbe()
    for _ in range(3):
        resolve.resolve_project(proj, cache_dir=tmp_path / "cache", probe=probe, environ={})
    assert len(probe.calls) == 1


def test_install_into_site_packages_invalidates(tmp_path: Path) -> None:
    make_venv(tmp_path / ".venv")
    proj, probe = one_agent_project(tmp_path, ["fakepkg"]), CountingProbe()
    first = resolve.resolve_project(proj, cache_dir=tmp_path / "cache", probe=probe, environ={})["a"]
    assert first.missing == ("fakepkg",)
    site = next((tmp_path / ".venv" / "lib").glob("python*/site-packages"))
    info = site / "fakepkg-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: FakePkg\nVersion: 2.0\n")
    second = resolve.resolve_project(proj, cache_dir=tmp_path / "cache", probe=probe, environ={})["a"]
    assert len(probe.calls) == 2
    assert second.missing == () and second.installed == {"fakepkg": "2.0"}


def test_new_package_name_reprobes(tmp_path: Path) -> None:
    make_venv(tmp_path / ".venv")
    probe = CountingProbe()
    resolve.resolve_project(one_agent_project(tmp_path, ["a"]), cache_dir=tmp_path / "c", probe=probe, environ={})
    resolve.resolve_project(one_agent_project(tmp_path, ["a"]), cache_dir=tmp_path / "c", probe=probe, environ={})
    resolve.resolve_project(one_agent_project(tmp_path, ["b"]), cache_dir=tmp_path / "c", probe=probe, environ={})
    assert len(probe.calls) == 2


def test_recreated_venv_is_probed_again(tmp_path: Path) -> None:
    make_venv(tmp_path / ".venv")
    probe = CountingProbe()
    resolve.resolve_project(one_agent_project(tmp_path), cache_dir=tmp_path / "c", probe=probe, environ={})
    cfg = tmp_path / ".venv" / "pyvenv.cfg"
    cfg.write_text(cfg.read_text() + "\n")
    os.utime(cfg, ns=(1, 1))
    resolve.resolve_project(one_agent_project(tmp_path), cache_dir=tmp_path / "c", probe=probe, environ={})
    assert len(probe.calls) == 2


def test_wrapper_is_replaced_by_real_interpreter_and_not_cached(tmp_path: Path) -> None:
    wrapper = tmp_path / "bin" / "python3"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    probe = CountingProbe()
    for _ in range(2):
        got = resolve.resolve_project(one_agent_project(tmp_path), cache_dir=tmp_path / "c", probe=probe,
                                    environ={"PATH": str(wrapper.parent)})["a"]
    assert got.executable == sys.executable and got.source == "system python3 on PATH"
    assert len(probe.calls) == 2


def test_distinct_interpreters_probe_once_each(tmp_path: Path) -> None:
    agents = {}
    for index in range(12):
        venv = tmp_path / f"v{index % 3}"
        if not venv.exists():
            make_venv(venv)
        agents[f"a{index}"] = model.Agent(f"a{index}", model.RunKind.SCRIPT, "x.py", working_dir=tmp_path,
                                          interpreter=str(venv))
    proj = model.Project("p", tmp_path, (), agents)
    probe = CountingProbe()
    got = resolve.resolve_project(proj, cache_dir=tmp_path / "c", probe=probe, environ={})
    assert sorted(probe.calls) == sorted({(str(tmp_path / f"v{i}" / "bin" / "python"),) for i in range(3)})
    assert len(resolve.environments(got)) == 3


def test_default_cache_dir_honours_environment(tmp_path: Path) -> None:
    assert memo.default_cache_dir({"MESH_COMPOSE_CACHE_DIR": str(tmp_path)}) == tmp_path
    if sys.platform.startswith("linux"):
        assert memo.default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/mesh-compose")


def test_the_probe_does_not_count_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "only_here_module.py").write_text("")
    monkeypatch.chdir(tmp_path)
    result = probe_interpreter([sys.executable], [], ["only_here_module", "json"])
    assert result.importable == ("json",) and result.modules_asked == ("json", "only_here_module")


def test_scripts_named_like_a_module_are_asked_in_the_same_probe_and_cached(tmp_path: Path) -> None:
    make_venv(tmp_path / ".venv")
    agents = {name: model.Agent(name, model.RunKind.SCRIPT, script, working_dir=tmp_path)
              for name, script in (("shadow", "wave.py"), ("fine", "own_name_agent.py"))}
    proj, probe = model.Project("p", tmp_path, (), agents), CountingProbe()
    for _ in range(2):
        got = resolve.resolve_project(proj, cache_dir=tmp_path / "c", probe=probe, environ={})
        assert got["shadow"].shadowed_module == "wave" and got["fine"].shadowed_module == ""
    assert len(probe.calls) == 1
    renamed = {**agents, "fine": model.Agent("fine", model.RunKind.SCRIPT, "json.py", working_dir=tmp_path)}
    got = resolve.resolve_project(model.Project("p", tmp_path, (), renamed), cache_dir=tmp_path / "c",
                                  probe=probe, environ={})
    assert len(probe.calls) == 2 and got["fine"].shadowed_module == "json"
