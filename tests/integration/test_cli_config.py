"""`mesh-compose config` and `schema` as a user runs them: a real subprocess."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import pytest
import yaml
from config_strategies import CASE_GENERATORS, ENVIRON, HOSTILE_TEXTS, prepare, write_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def cli(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def touch(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_text("")


def test_config_prints_normalized_yaml_and_json(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "b.py")
    (tmp_path / "mesh-compose.yaml").write_text("agents:\n  b: {script: b.py, depends_on: [a]}\n  a: {script: a.py}\n")
    out = cli(tmp_path, "config")
    assert out.returncode == 0, out.stderr
    document = yaml.safe_load(out.stdout)
    assert document["agents"]["b"]["depends_on"] == {"a": {"condition": "started", "required": True}}
    assert document["agents"]["a"]["script"] == str(tmp_path / "a.py")
    as_json = json.loads(cli(tmp_path, "config", "--format", "json").stdout)
    assert as_json == document
    assert cli(tmp_path, "config", "--services").stdout.split() == ["a", "b"]  # start order
    quiet = cli(tmp_path, "config", "-q")
    assert (quiet.returncode, quiet.stdout) == (0, "")


def test_config_shows_each_agents_effective_packages(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "b.py")
    (tmp_path / "mesh-compose.yaml").write_text(
        "python: {packages: ['mcp-mesh>=0.5', httpx]}\n"
        "agents:\n  a: {script: a.py, python: {packages: [httpx, rich]}}\n  b: {script: b.py}\n")
    document = yaml.safe_load(cli(tmp_path, "config").stdout)
    assert document["python"]["packages"] == ["mcp-mesh>=0.5", "httpx"]
    assert document["agents"]["a"]["python"]["packages"] == ["mcp-mesh>=0.5", "httpx", "rich"]
    assert document["agents"]["b"]["python"]["packages"] == ["mcp-mesh>=0.5", "httpx"]


def test_five_mistakes_five_located_errors_no_traceback(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "five_mistakes.yaml", tmp_path / "mesh-compose.yaml")
    touch(tmp_path, "api.py", "w.py")
    out = cli(tmp_path, "config", "-q")
    assert out.returncode == 3 and out.stdout == ""
    located = [line for line in out.stderr.splitlines() if line.startswith(str(tmp_path / "mesh-compose.yaml") + ":")]
    assert [line.split(": ")[1] for line in located] == [
        "agents.api.restart", "agents.api.stop_grace_period", "agents.worker.depends_on.apii",
        "agents.worker.resources.memory_limit", "agents.worker.healthcheck.intervl",
    ]
    assert "5 problems" in out.stderr and "Traceback" not in out.stderr


def test_warnings_go_to_stderr_and_env_file_option(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    (tmp_path / "m.yaml").write_text("agents:\n  a: {script: a.py, args: ['$UNSET_ONE', '${FROM_FILE}']}\n")
    (tmp_path / "vars.env").write_text("FROM_FILE=yes\n")
    out = cli(tmp_path, "config", "-f", "m.yaml", "--env-file", "vars.env", "--format", "json", env={"UNSET_ONE": ""})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["agents"]["a"]["args"] == ["", "yes"]
    env = {k: v for k, v in os.environ.items() if k != "UNSET_ONE"}
    out = subprocess.run([sys.executable, "-m", "meshcompose", "-f", "m.yaml", "config", "-q"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and "warning: the UNSET_ONE variable is not set" in out.stderr
    assert "FROM_FILE" in out.stderr  # .env is not read when absent; vars.env was not passed this time


def test_profiles_and_bare_python_file(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("print('hi')\n")
    out = cli(tmp_path, "config", "-f", "hello.py", "--services")
    assert (out.returncode, out.stdout) == (0, "hello\n")
    for name in ("full.yaml", "api.env", "worker.env"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "agents").mkdir()
    (tmp_path / ".venv").mkdir()
    touch(tmp_path, "agents/api.py", "probe.py", "reg.py", "debug.py")
    plain = cli(tmp_path, "-f", "full.yaml", "config", "--services").stdout.split()
    debug = cli(tmp_path, "-f", "full.yaml", "--profile", "debug", "config", "--services").stdout.split()
    assert "debug-shell" not in plain and debug[-1] == "debug-shell"


def test_not_yaml_and_missing_project(tmp_path: Path) -> None:
    out = cli(tmp_path, "config")
    assert out.returncode == 3 and "no mesh-compose.yaml found" in out.stderr
    (tmp_path / "mesh-compose.yaml").write_text("agents: [\n")
    out = cli(tmp_path, "config")
    assert out.returncode == 3 and "mesh-compose.yaml:2:1: not valid YAML" in out.stderr
    assert "Traceback" not in out.stderr


def test_schema_command_prints_the_schema(tmp_path: Path) -> None:
    out = cli(tmp_path, "schema")
    assert out.returncode == 0 and json.loads(out.stdout)["$id"].endswith("mesh-compose.schema.json")


@pytest.mark.timeout(300)
def test_plain_install_ships_the_schema(tmp_path: Path) -> None:
    """A non-editable `pip install .` in a fresh venv validates a project (the schema is package data)."""
    uv = shutil.which("uv")
    if not uv:
        pytest.skip("uv is not installed")
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".mesh-compose", ".mesh-stack", ".venv*", ".work", "*.egg-info", "build", "__pycache__", ".hypothesis",
        ".pytest_cache", ".mypy_cache", ".ruff_cache"))
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # The build backend comes from the index. uv trusts only its bundled roots unless told to use the
    # system's store, which is where a machine behind a TLS-inspecting proxy keeps its CA (pip uses it).
    installed = subprocess.run([uv, "pip", "install", "-q", "--python", str(python), str(source)], timeout=240,
                               capture_output=True, text=True, env={**os.environ, "UV_SYSTEM_CERTS": "1"})
    assert installed.returncode == 0, installed.stdout + installed.stderr
    shutil.rmtree(source)  # nothing may be read from the checkout any more
    (tmp_path / "mesh-compose.yaml").write_text("agents:\n  a: {script: a.py, restart: nope}\n")
    out = subprocess.run([str(venv / "bin" / "mesh-compose"), "config", "-q"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 3 and "agents.a.restart: did you mean 'no'? must be one of" in out.stderr, out.stderr
    schema = subprocess.run([str(venv / "bin" / "mesh-compose"), "schema"], capture_output=True, text=True, timeout=60)
    assert json.loads(schema.stdout)["title"] == "mesh-compose.yaml"


def test_numbers_too_large_for_a_float_are_errors_and_json_never_says_infinity(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    huge = "9" * 400
    (tmp_path / "mesh-compose.yaml").write_text(
        f"agents:\n  a: {{script: a.py, stop_grace_period: '{huge}h', resources: {{memory_limit: '{huge}TB'}}}}\n")
    out = cli(tmp_path, "config", "--format", "json")
    assert (out.returncode, out.stdout) == (3, "")
    assert "agents.a.stop_grace_period: too large for a duration" in out.stderr
    assert "agents.a.resources.memory_limit: too large for a size" in out.stderr
    (tmp_path / "mesh-compose.yaml").write_text("agents:\n  a: {script: a.py, stop_grace_period: 1.7976931348623157e+308}\n")
    out = cli(tmp_path, "config", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert "Infinity" not in out.stdout and json.loads(out.stdout)["agents"]["a"]["stop_grace_period"] == 1.7976931348623157e308


def test_config_and_up_locate_missing_paths_and_cycles_alike(tmp_path: Path) -> None:
    (tmp_path / "mesh-compose.yaml").write_text(
        "agents:\n"
        "  a: {script: gone.py, working_dir: nowhere, depends_on: [b]}\n"
        "  b: {command: ['true'], env_file: missing.env, interpreter: ./venv/bin/python, depends_on: [a]}\n")
    file = str(tmp_path / "mesh-compose.yaml")
    expected = [
        f"{file}:2:7: agents.a: script {tmp_path}/gone.py does not exist",
        f"{file}:2:24: agents.a: working_dir {tmp_path}/nowhere does not exist",
        f"{file}:3:26: agents.b.env_file[0]: cannot read env_file '{tmp_path}/missing.env': No such file or directory",
        f"{file}:3:49: agents.b: interpreter {tmp_path}/venv/bin/python does not exist",
        f"{file}:3:94: agents.b.depends_on.a: dependency cycle: a -> b -> a",
    ]
    for command in (("config", "-q"), ("up",)):
        out = cli(tmp_path, *command)
        assert out.returncode == 3, (command, out.stderr)
        assert [line for line in out.stderr.splitlines() if line.startswith(file)] == expected, out.stderr
        assert "Traceback" not in out.stderr
    assert not (tmp_path / ".mesh-compose").exists() or not any((tmp_path / ".mesh-compose").rglob("*.log"))


CLI_RUNS = 4  # files per example, checked by as many concurrent `config` processes


@pytest.fixture(scope="module")
def fuzz_projects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    roots = [tmp_path_factory.mktemp(f"cli-fuzz-{index}") for index in range(CLI_RUNS)]
    for root in roots:
        prepare(root)
    return roots


def assert_model_or_located_errors(text: str, code: int, stdout: str, stderr: str) -> None:
    """`config --format json` on a hostile file: a model (valid JSON, never Infinity) or located errors (exit 3)."""
    assert code in (0, 3) and "Traceback" not in stderr, (text, stderr)
    if code == 0:
        json.loads(stdout, parse_constant=lambda name, text=text: pytest.fail(f"{name} in the JSON of {text!r}"))
    else:
        assert "mesh-compose.yaml" in stderr and stdout == "", (text, stderr)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=HOSTILE_TEXTS)
def test_fuzzed_files_through_the_cli_entry_point(fuzz_projects: list[Path], text: str) -> None:
    """200 hostile files through the command's own entry point, in this process: the
    same parse, load and render as the real CLI below, without an interpreter start each."""
    from meshcompose.cli.main import main

    root = fuzz_projects[0]
    (root / "mesh-compose.yaml").write_text(text, encoding="utf-8")
    stdout, stderr, here = io.StringIO(), io.StringIO(), os.getcwd()
    environ = {**ENVIRON, "MESH_COMPOSE_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"}
    try:
        os.chdir(root)
        with mock.patch.dict(os.environ, environ), redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(["config", "--format", "json"])
    finally:
        os.chdir(here)
    assert_model_or_located_errors(text, code, stdout.getvalue(), stderr.getvalue())


@pytest.mark.timeout(600)  # 48 processes: ~10 s on an idle 2-core machine, far more on a busy one
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(texts=st.lists(HOSTILE_TEXTS, min_size=CLI_RUNS, max_size=CLI_RUNS))
def test_fuzzed_files_through_the_real_cli_exit_0_or_3_without_a_traceback(fuzz_projects: list[Path],
                                                                          texts: list[str]) -> None:
    """48 hostile files through `python -m meshcompose`, as a user runs it."""
    env = {**os.environ, **ENVIRON, "MESH_COMPOSE_CACHE_DIR": str(fuzz_projects[0] / "cache")}
    runs = []
    for root, text in zip(fuzz_projects, texts):
        (root / "mesh-compose.yaml").write_text(text, encoding="utf-8")
        runs.append(subprocess.Popen([sys.executable, "-m", "meshcompose", "config", "--format", "json"], cwd=root,
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for run, text in zip(runs, texts):
        stdout, stderr = (stream.decode("utf-8", "replace") for stream in run.communicate(timeout=60))
        assert_model_or_located_errors(text, run.returncode, stdout, stderr)


@pytest.mark.parametrize("command", [("config",), ("up", "-d")])
def test_an_agent_file_under_the_home_of_no_such_user_is_an_error_not_a_traceback(tmp_path: Path, command) -> None:
    # Path.expanduser raises RuntimeError for "~user" when there is no such user.
    done = cli(tmp_path, "-f", "~no-such-user-mesh-compose/agent.py", *command)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "no such file" in done.stderr, done.stderr


BUDGET_SECONDS, BUDGET_BYTES = 20, 500 * 1024 * 1024


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", sorted(CASE_GENERATORS))
def test_hostile_projects_through_the_real_cli_within_the_budget(tmp_path: Path, kind: str) -> None:
    """Each class a fresh fuzzer found, through `config -q`: exit 0 or 3, no traceback, within
    20 s and 500 MB of peak RSS (measured by wait4) per document."""
    rng = random.Random(f"{kind}-cli")
    for _ in range(4):
        case = CASE_GENERATORS[kind](rng)
        path = write_case(tmp_path, case)
        environ = {**os.environ, **ENVIRON, "MESH_COMPOSE_CACHE_DIR": str(tmp_path / "cache")}
        environ.update({key: value for key, value in case.environ.items()
                        if "\0" not in value and value.encode("utf-8", "ignore").decode() == value})
        with open(tmp_path / "output.log", "wb") as output:
            run = subprocess.Popen([sys.executable, "-m", "meshcompose", "-f", str(path), "config", "-q"],
                                   cwd=tmp_path, env=environ, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        started = time.monotonic()
        while True:
            pid, status, usage = os.wait4(run.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > BUDGET_SECONDS:
                run.send_signal(signal.SIGKILL)
                run.wait()
                pytest.fail(f"over {BUDGET_SECONDS} s: {case.document[:300]!r}")
            time.sleep(0.02)
        run.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: Popen must not wait again
        text = (tmp_path / "output.log").read_text("utf-8", "replace")
        assert run.returncode in (0, 3) and "Traceback" not in text, (case.document[:300], text[-2000:])
        assert usage.ru_maxrss * 1024 < BUDGET_BYTES, (usage.ru_maxrss, case.document[:300])
