"""Loading projects: every key of the format, defaults, the three input kinds, .env and profiles."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from meshcompose.config import loader
from meshcompose.errors import ConfigError, ProjectNotFoundError
from meshcompose.model import Condition, HealthKind, RestartMode, RunKind

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def touch(directory: Path, *names: str) -> None:
    """The scripts a project names: the loader checks that they exist."""
    for name in names:
        write(directory, name, "")


def copy_full(directory: Path) -> None:
    for name in ("full.yaml", "api.env", "worker.env"):
        shutil.copy(FIXTURES / name, directory / name)
    touch(directory, "agents/api.py", "probe.py", "reg.py", "debug.py", ".venv/bin/python")


@pytest.fixture
def full(tmp_path: Path):
    copy_full(tmp_path)
    warnings: list[str] = []
    project = loader.load_project([tmp_path / "full.yaml"], environ={"FROM_CALLER": "hi"}, warnings=warnings)
    return tmp_path, project, warnings


def test_full_fixture_project_level(full) -> None:
    root, project, warnings = full
    assert project.name == "full-project"
    assert project.directory == root
    assert project.files == (root / "full.yaml",)
    assert project.interpreter == "python3"
    assert project.python.requires == ">=3.9" and project.python.packages == ("httpx>=0.24",)
    assert (project.registry.host, project.registry.port, project.registry.command) == ("127.0.0.1", 8100, ("auto",))
    assert project.registry.managed and project.registry.url is None
    assert list(project.agents) == ["registry-proxy", "api", "worker", "probe", "registered"]
    assert project.profiles == ()
    assert warnings == []


def test_full_fixture_api_agent_uses_every_key(full) -> None:
    root, project, _ = full
    api = project.agents["api"]
    assert api.run is RunKind.SCRIPT and api.target == str(root / "agents" / "api.py")
    assert api.args == ("--port", "9000")
    assert api.working_dir == root / "agents"
    assert api.interpreter == ".venv"
    # The project's packages are required of every agent too: the model says so, and `config` shows it.
    assert api.python.requires == ">=3.10" and api.python.packages == ("httpx>=0.24", "fastapi")
    # env_file values, overlaid by `environment` (LOG_LEVEL from the anchor wins over api.env).
    assert dict(api.environment) == {
        "API_KEY": "secret", "LOG_LEVEL": "debug", "PORT": "9000", "FLAG": "true", "FROM_CALLER": "hi",
    }
    assert [(d.name, d.condition, d.required) for d in api.depends_on] == [("registry-proxy", Condition.HEALTHY, True)]
    assert api.healthcheck.kind is HealthKind.HTTP and api.healthcheck.target == "http://127.0.0.1:9000/health"
    assert (api.healthcheck.interval, api.healthcheck.timeout, api.healthcheck.retries) == (2.0, 5.0, 3)
    assert api.restart.mode is RestartMode.ON_FAILURE and api.restart.max_restarts == 3
    assert (api.restart.backoff.initial, api.restart.backoff.maximum) == (2.0, 60.0)
    assert api.stop_signal == "SIGINT" and api.stop_grace_period == 5.0
    assert (api.resources.timeout, api.resources.memory_limit, api.resources.cpu_limit) == (7200.0, 512_000_000, 0.5)
    assert (api.metadata.name, api.metadata.version, api.metadata.tags) == ("API", "2.1", ("http", "public"))


def test_full_fixture_other_agents(full) -> None:
    root, project, _ = full
    proxy, worker = project.agents["registry-proxy"], project.agents["worker"]
    assert proxy.run is RunKind.COMMAND and proxy.command == ("mcp-mesh-registry", "--port", "8100")
    assert proxy.args == ("--verbose",) and not proxy.is_python
    assert proxy.healthcheck.kind is HealthKind.TCP
    assert (proxy.healthcheck.interval, proxy.healthcheck.timeout, proxy.healthcheck.start_period) == (0.5, 2.0, 90.0)
    assert proxy.working_dir == root and proxy.python.requires == ">=3.9"  # defaults: project dir, project requires
    assert proxy.python.packages == ("httpx>=0.24",)
    assert worker.run is RunKind.MODULE and worker.target == "workers.main"
    assert dict(worker.environment) == {"MODE": "batch", "BATCH": "10", "FROM_CALLER": "hi"}
    assert worker.depends_on[0].condition is Condition.STARTED
    assert worker.healthcheck.kind is HealthKind.LOG and worker.healthcheck.retries == 1
    assert worker.restart.mode is RestartMode.NO and worker.restart.backoff.initial == 3.0
    probe, registered = project.agents["probe"], project.agents["registered"]
    assert probe.healthcheck.command == ("python", "-c", "print(1)") and probe.restart.mode is RestartMode.NO
    assert registered.healthcheck.kind is HealthKind.REGISTRY
    assert registered.depends_on[0].condition is Condition.REGISTERED and not registered.depends_on[0].required
    assert registered.restart.mode is RestartMode.ALWAYS and registered.stop_signal == "SIGTERM"


def test_profile_enables_agent(tmp_path: Path) -> None:
    copy_full(tmp_path)
    project = loader.load_project([tmp_path / "full.yaml"], profiles=["debug"], environ={})
    shell = project.agents["debug-shell"]
    assert project.profiles == ("debug",) and shell.profiles == ("debug",)
    assert shell.restart.mode is RestartMode.UNLESS_STOPPED
    assert shell.depends_on[0].condition is Condition.COMPLETED_SUCCESSFULLY


@pytest.mark.parametrize("value", ["no", "'no'", '"no"', "false", "False"])
def test_restart_no_in_every_spelling(tmp_path: Path, value: str) -> None:
    touch(tmp_path, "a.py")
    path = write(tmp_path, "mesh-compose.yaml", f"agents:\n  a:\n    script: a.py\n    restart: {value}\n")
    assert loader.load_project([path], environ={}).agents["a"].restart.mode is RestartMode.NO


def test_yaml11_words_stay_strings(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    path = write(tmp_path, "m.yaml", "agents:\n  a:\n    script: a.py\n    environment: {DEBUG: no, FAST: on, DATE: 2024-01-02}\n")
    env = loader.load_project([path], environ={}).agents["a"].environment
    assert dict(env) == {"DEBUG": "no", "FAST": "on", "DATE": "2024-01-02"}


def test_defaults_are_filled(tmp_path: Path) -> None:
    touch(tmp_path, "sub/a.py")
    path = write(tmp_path, "mesh-compose.yaml", "agents:\n  a:\n    script: sub/a.py\n")
    project = loader.load_project([path], environ={})
    agent = project.agents["a"]
    assert project.name == tmp_path.name.lower()  # the directory name, normalized
    assert agent.target == str(tmp_path / "sub" / "a.py") and agent.working_dir == tmp_path
    assert agent.python.requires == ">=3.7" and project.python.requires == ">=3.7"
    assert agent.restart.mode is RestartMode.NO and agent.stop_signal == "SIGTERM" and agent.stop_grace_period == 10.0
    assert agent.healthcheck is None and agent.depends_on == () and agent.environment == {}


def test_project_name_precedence(tmp_path: Path) -> None:
    project_dir = tmp_path / "My Project"
    touch(project_dir, "a.py")
    plain = write(project_dir, "a.yaml", "agents: {a: {script: a.py}}\n")
    named = write(project_dir, "b.yaml", "name: from-file\nagents: {a: {script: a.py}}\n")
    assert loader.load_project([plain], environ={}).name == "my-project"
    assert loader.load_project([named], environ={}).name == "from-file"
    assert loader.load_project([named], project_name="cli", environ={}).name == "cli"


def test_discovery_walks_up_and_merges_override(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    write(tmp_path, "mesh-compose.yml", "agents:\n  a:\n    script: a.py\n    environment: {X: base, Y: base}\n")
    write(tmp_path, "mesh-compose.override.yaml", "agents:\n  a:\n    environment: {Y: override}\n")
    nested = tmp_path / "deep" / "er"
    nested.mkdir(parents=True)
    project = loader.load_project(cwd=nested, environ={})
    assert project.directory == tmp_path
    assert project.files == (tmp_path / "mesh-compose.yml", tmp_path / "mesh-compose.override.yaml")
    assert dict(project.agents["a"].environment) == {"X": "base", "Y": "override"}


def test_no_project_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError) as caught:
        loader.load_project(cwd=tmp_path, environ={})
    assert "no mesh-compose.yaml found" in caught.value.message and "-f" in caught.value.hint


def test_merge_rules(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", """\
        agents:
          a:
            command: [server, --base]
            args: [--one]
            env_file: [one.env]
            profiles: [p]
            depends_on: [b]
            healthcheck: {cmd: [check, base], interval: 1s}
            metadata: {tags: [x]}
          b: {script: b.py}
          c: {script: c.py}
        """)
    over = write(tmp_path, "over.yaml", """\
        agents:
          a:
            command: [server, --over]
            args: [--two]
            env_file: two.env
            depends_on: {c: {condition: healthy}}
            healthcheck: {cmd: [check, over]}
            metadata: {tags: [y]}
          d: {module: d}
        """)
    touch(tmp_path, "b.py", "c.py")
    write(tmp_path, "one.env", "ONE=1\nBOTH=one\n")
    write(tmp_path, "two.env", "TWO=2\nBOTH=two\n")
    project = loader.load_project([base, over], profiles=["p"], environ={})
    a = project.agents["a"]
    assert a.command == ("server", "--over") and a.args == ("--two",)  # replaced
    assert a.healthcheck.command == ("check", "over") and a.healthcheck.interval == 1.0  # cmd replaced, map merged
    assert a.metadata.tags == ("x", "y")  # lists append
    assert dict(a.environment) == {"ONE": "1", "TWO": "2", "BOTH": "two"}
    assert [(d.name, d.condition) for d in a.depends_on] == [("b", Condition.STARTED), ("c", Condition.HEALTHY)]
    assert list(project.agents) == ["a", "b", "c", "d"]
    assert project.files == (base, over)


def test_problem_in_override_points_at_override(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    base = write(tmp_path, "base.yaml", "agents:\n  a:\n    script: a.py\n")
    over = write(tmp_path, "over.yaml", "agents:\n  a:\n    depends_on: [nope]\n")
    with pytest.raises(ConfigError) as caught:
        loader.load_project([base, over], environ={})
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == (str(over), 3, "agents.a.depends_on.nope")


def test_dotenv_and_caller_environment(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    write(tmp_path, ".env", "PORT=1111\nNAME=dotenv\nSECRET=from-dotenv\n")
    path = write(tmp_path, "mesh-compose.yaml", """\
        agents:
          a:
            script: a.py
            args: ["$PORT", "${NAME}"]
            env_file: agent.env
            environment: [SECRET, ABSENT]
        """)
    write(tmp_path, "agent.env", "FROM_FILE=${PORT}\nLITERAL='${PORT}'\n")
    agent = loader.load_project([path], environ={"NAME": "caller"}).agents["a"]
    assert agent.args == ("1111", "caller")  # caller's environment wins over .env
    # env_file values are interpolated as compose does (from the caller and .env; single quotes
    # keep them), but they are not interpolation sources for the project file.
    assert dict(agent.environment) == {"FROM_FILE": "1111", "LITERAL": "${PORT}", "SECRET": "from-dotenv"}


def test_env_files_replace_dotenv(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    write(tmp_path, ".env", "PORT=1111\n")
    write(tmp_path, "ci.env", "PORT=2222\n")
    path = write(tmp_path, "m.yaml", "agents:\n  a:\n    script: a.py\n    args: ['${PORT:-0}']\n")
    assert loader.load_project([path], env_files=[tmp_path / "ci.env"], environ={}).agents["a"].args == ("2222",)
    with pytest.raises(ConfigError, match="cannot read the env file"):
        loader.load_project([path], env_files=[tmp_path / "missing.env"], environ={})


def test_unset_variable_warns_once(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    path = write(tmp_path, "m.yaml", "agents:\n  a:\n    script: a.py\n    args: [$NOPE, '${NOPE}', $ALSO]\n")
    warnings: list[str] = []
    agent = loader.load_project([path], environ={}, warnings=warnings).agents["a"]
    assert agent.args == ("", "", "")
    assert warnings == ["the NOPE variable is not set; using an empty string",
                        "the ALSO variable is not set; using an empty string"]


def test_profiles_and_dependencies(tmp_path: Path) -> None:
    touch(tmp_path, "core.py", "extra.py", "soft.py", "c.py", "e.py")
    path = write(tmp_path, "m.yaml", """\
        agents:
          core: {script: core.py}
          extra: {script: extra.py, profiles: [tools]}
          soft: {script: soft.py, depends_on: {extra: {required: false}}}
        """)
    project = loader.load_project([path], environ={})
    assert list(project.agents) == ["core", "soft"] and project.agents["soft"].depends_on == ()
    with_tools = loader.load_project([path], profiles=["tools"], environ={})
    assert list(with_tools.agents) == ["core", "extra", "soft"]
    assert with_tools.agents["soft"].depends_on[0].name == "extra"
    hard = write(tmp_path, "hard.yaml", "agents:\n  core: {script: c.py, depends_on: [extra]}\n  extra: {script: e.py, profiles: [tools]}\n")
    with pytest.raises(ConfigError) as caught:
        loader.load_project([hard], environ={})
    assert "only enabled with --profile tools" in str(caught.value)


def test_single_agent_yaml(tmp_path: Path) -> None:
    app, python = tmp_path / "opt" / "myapp", tmp_path / "usr" / "bin" / "python3.9"
    touch(app, "src/advanced_agent.py")
    touch(python.parent, python.name)
    path = write(tmp_path, "production_agent.yaml", f"""\
        agent:
          script: "src/advanced_agent.py"
          working_directory: "{app}"
          python_interpreter: "{python}"
        environment:
          MCP_MESH_LOG_LEVEL: "DEBUG"
          API_TOKEN: "${{PRODUCTION_API_TOKEN}}"
        metadata:
          name: "production-agent"
          version: "2.1.0"
          tags: ["production", "database"]
        resources:
          timeout: 300
          memory_limit: "1GB"
          cpu_limit: "2"
        """)
    warnings: list[str] = []
    project = loader.load_project([path], environ={}, warnings=warnings)
    assert project.name == "production_agent" and list(project.agents) == ["production-agent"]
    agent = project.agents["production-agent"]
    assert agent.target == f"{app}/src/advanced_agent.py" and agent.working_dir == app
    assert agent.interpreter == str(python)
    assert dict(agent.environment) == {"MCP_MESH_LOG_LEVEL": "DEBUG", "API_TOKEN": ""}
    assert (agent.resources.timeout, agent.resources.memory_limit, agent.resources.cpu_limit) == (300.0, 10**9, 2.0)
    assert agent.metadata.version == "2.1.0" and agent.metadata.tags == ("production", "database")
    assert warnings == ["the PRODUCTION_API_TOKEN variable is not set; using an empty string"]


def test_single_agent_yaml_errors_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, "one.yaml", "agent:\n  scrip: a.py\nenvironmnt: {}\n")
    with pytest.raises(ConfigError) as caught:
        loader.load_project([path], environ={})
    texts = [str(p) for p in caught.value.problems]
    assert f"{path}:2:3: agent.scrip: unknown key 'scrip'; allowed: script, working_directory, python_interpreter" in texts
    assert any(t.startswith(f"{path}:3:1: environmnt: unknown key") for t in texts)


def test_bare_python_file(tmp_path: Path) -> None:
    script = write(tmp_path, "hello_world.py", "print('hi')\n")
    project = loader.load_project([script], environ={})
    assert project.name == "hello_world" and project.directory == tmp_path
    (agent,) = project.agents.values()
    assert agent.name == "hello_world" and agent.run is RunKind.SCRIPT and agent.target == str(script)


def test_python_file_and_compose_file_together(tmp_path: Path) -> None:
    touch(tmp_path, "api.py")
    compose = write(tmp_path, "mesh-compose.yaml", "agents:\n  api: {script: api.py}\n")
    extra = write(tmp_path, "tools/extra.py", "")
    project = loader.load_project([compose, extra], environ={})
    assert list(project.agents) == ["api", "extra"] and project.agents["extra"].target == str(extra)


def test_normalized_output_loads_back_to_the_same_project(full, tmp_path: Path) -> None:
    root, project, _ = full
    document = loader.project_to_dict(project)
    again_path = root / "again.yaml"
    again_path.write_text(yaml.safe_dump(document, sort_keys=False))
    again = loader.load_project([again_path], environ={})
    assert again.agents == project.agents
    assert (again.name, again.python, again.registry, again.interpreter) == (
        project.name, project.python, project.registry, project.interpreter)


def test_the_cycle_collector_waits_while_loading_and_runs_after(tmp_path: Path, monkeypatch) -> None:
    """Loading pauses the collector (its objects all live until the end) and gives it back as it
    found it: on, after a valid file and after a bad one; off, if the caller had turned it off."""
    import gc

    from meshcompose.config import build

    seen: list[bool] = []
    real_build = build.build_project
    monkeypatch.setattr(loader, "build_project", lambda *a, **k: seen.append(gc.isenabled()) or real_build(*a, **k))
    touch(tmp_path, "a.py")
    good = write(tmp_path, "good.yaml", "agents: {a: {script: a.py}}\n")
    bad = write(tmp_path, "bad.yaml", "agents: {a: {script: a.py, restart: sometimes, x: 1}}\n")
    assert gc.isenabled()
    loader.load_project([good], environ={})
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        loader.load_project([bad], environ={})
    assert gc.isenabled()
    gc.disable()
    try:
        loader.load_project([good], environ={})
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False, False, False]  # paused while building, each time
