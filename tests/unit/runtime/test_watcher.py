"""Watch mode's rules without a supervisor: what a change matches, the
default roots, develop.watch in the project file, dependents, the compile check."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import anyio
import pytest

from meshcompose.config import loader
from meshcompose.errors import ConfigError
from meshcompose.model import Agent, RunKind, WatchAction, WatchRule
from meshcompose.pyenv import requirements
from meshcompose.runtime.compilecheck import syntax_errors
from meshcompose.runtime.watch import Watch, default_root, dependents_to_restart, watches_for


def load(tmp_path: Path, text: str):
    (tmp_path / "mesh-compose.yaml").write_text(textwrap.dedent(text))
    return loader.load_project([tmp_path / "mesh-compose.yaml"], environ={})


def test_develop_watch_is_built_with_absolute_paths(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "a.py").write_text("")
    project = load(tmp_path, """\
        agents:
          a:
            script: a.py
            develop:
              watch:
                - path: src
                  ignore: ["tests/**"]
                - {path: requirements.txt, action: rebuild}
        """)
    assert project.agents["a"].watch == (
        WatchRule(tmp_path / "src", WatchAction.RESTART, ("tests/**",)),
        WatchRule(tmp_path / "requirements.txt", WatchAction.REBUILD),
    )


@pytest.mark.parametrize(("entry", "where", "message"), [
    ("{path: no/such/dir}", "agents.a.develop.watch[0].path", "no such file or directory"),
    ("{path: a.py, action: sync}", "agents.a.develop.watch[0].action", "must be one of: restart, rebuild"),
    ("{action: restart}", "agents.a.develop.watch[0]", "path"),
])
def test_develop_watch_errors_are_located(tmp_path: Path, entry: str, where: str, message: str) -> None:
    (tmp_path / "a.py").write_text("")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"""\
            agents:
              a:
                script: a.py
                develop:
                  watch:
                    - {entry}
            """)
    problems = caught.value.problems
    assert [problem.path for problem in problems] == [where] and message in problems[0].message
    assert problems[0].line == 6


def rule_watch(root: Path, *ignore: str, python_only: bool = False) -> Watch:
    return Watch("a", WatchRule(root, ignore=tuple(ignore)), python_only=python_only)


@pytest.mark.parametrize(("relative", "expected"), [
    ("agent.py", True), ("pkg/deep/mod.py", True), ("notes.txt", False),
    (".venv/lib/x.py", False), ("venv/x.py", False), ("pkg/__pycache__/m.py", False), (".git/x.py", False),
    (".mesh-compose/logs/a.py", False), ("node_modules/x.py", False), ("agent.py~", False), (".#agent.py", False),
])
def test_the_default_watch_takes_python_files_outside_ignored_directories(
        tmp_path: Path, relative: str, expected: bool) -> None:
    assert rule_watch(tmp_path, python_only=True).matches(tmp_path / relative) is expected


@pytest.mark.parametrize(("relative", "expected"), [
    ("config.yaml", True), ("generated/x.py", False), ("generated/deep/y.py", False), ("app.log", False),
    ("sub/app.log", False), ("tests/test_a.py", False), ("testsuite/a.py", True),
])
def test_ignore_globs_are_relative_to_the_watched_path(tmp_path: Path, relative: str, expected: bool) -> None:
    watch = rule_watch(tmp_path, "generated/**", "*.log", "tests")
    assert watch.matches(tmp_path / relative) is expected


def test_a_change_outside_the_root_or_of_a_directory_is_not_a_match(tmp_path: Path) -> None:
    (tmp_path / "made").mkdir()
    watch = rule_watch(tmp_path / "app")
    assert not watch.matches(tmp_path / "other.py")
    assert not rule_watch(tmp_path).matches(tmp_path / "made")


def test_default_roots(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    script = Agent("s", RunKind.SCRIPT, target=str(tmp_path / "app" / "s.py"), working_dir=tmp_path)
    module = Agent("m", RunKind.MODULE, target="pkg.main", working_dir=tmp_path)
    flat = Agent("f", RunKind.MODULE, target="flat", working_dir=tmp_path)
    command = Agent("c", RunKind.COMMAND, command=("sleep", "1"), working_dir=tmp_path)
    assert default_root(script) == tmp_path / "app"
    assert default_root(module) == tmp_path / "pkg"
    assert default_root(flat) == tmp_path
    assert watches_for(command) == ()  # not Python, no develop.watch: nothing to watch


def test_dependents_follow_only_with_restart_true() -> None:
    def agent(*deps: tuple[str, bool]) -> SimpleNamespace:
        return SimpleNamespace(depends_on=tuple(SimpleNamespace(name=n, restart=r) for n, r in deps))

    project = SimpleNamespace(agents={
        "db": agent(), "api": agent(("db", True)), "ui": agent(("api", True)), "cron": agent(("db", False)),
    })
    assert dependents_to_restart(project, "db") == ("api", "ui")  # type: ignore[arg-type]
    assert dependents_to_restart(project, "cron") == ()  # type: ignore[arg-type]


def test_the_compile_check_names_file_and_line(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("x = 1\n")
    bad.write_text("x = 1\nif x\n    pass\n")
    assert anyio.run(syntax_errors, sys.executable, [good]) == []
    errors = anyio.run(syntax_errors, sys.executable, [good, bad])
    assert len(errors) == 1 and errors[0].startswith(f"{bad}:2:") and "SyntaxError" in errors[0]
    assert not list(tmp_path.rglob("*.pyc"))  # checking writes no bytecode


def test_requirements_files_declare_packages(tmp_path: Path) -> None:
    txt = tmp_path / "requirements-dev.txt"
    txt.write_text("# comment\nhttpx>=0.27  # why\n-r other.txt\n--index-url http://x\n\nrich\n")
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[project]\nname = "a"\ndependencies = ["rich", "pydantic>=2"]\n')
    assert requirements.declared([txt, tmp_path / "agent.py"]) == ("httpx>=0.27", "rich")
    if sys.version_info >= (3, 11):
        assert requirements.declared([txt, toml]) == ("httpx>=0.27", "rich", "pydantic>=2")
    else:  # no TOML reader in the standard library: said, not a traceback
        from meshcompose.errors import MeshComposeError

        with pytest.raises(MeshComposeError, match="cannot read .*pyproject.toml on Python < 3.11"):
            requirements.declared([txt, toml])
