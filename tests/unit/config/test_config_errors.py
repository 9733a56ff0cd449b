"""Every class of mistake, with the located message a user sees."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from meshcompose.config import loader, yamlload
from meshcompose.errors import EXIT_CONFIG, ConfigError
from meshcompose.plan.planner import find_cycles

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def problems(tmp_path: Path, text: str, **kwargs) -> list[str]:
    for script in ("a.py", "b.py"):
        (tmp_path / script).write_text("")
    path = tmp_path / "mesh-compose.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        loader.load_project([path], environ=kwargs.pop("environ", {}), find_cycles=find_cycles, **kwargs)
    assert caught.value.exit_code == EXIT_CONFIG
    prefix = f"{path}:"
    return [str(p)[len(prefix):] if str(p).startswith(prefix) else str(p) for p in caught.value.problems]


def test_five_mistakes_give_five_located_errors(tmp_path: Path) -> None:
    for script in ("api.py", "w.py"):
        (tmp_path / script).write_text("")
    found = problems(tmp_path, (FIXTURES / "five_mistakes.yaml").read_text())
    assert found == [
        "4:5: agents.api.restart: must be one of: no, on-failure, always, unless-stopped (got 'sometimes')",
        "5:5: agents.api.stop_grace_period: invalid value 'forever': A duration: seconds as a number, "
        "or a string such as 500ms, 30s, 1m30s, 2h.",
        "8:18: agents.worker.depends_on.apii: unknown agent 'apii' in depends_on; did you mean 'api'?",
        "9:17: agents.worker.resources.memory_limit: invalid value 'lots': A size: bytes as an integer, "
        "or a string such as 512MB, 1GiB, 1GB.",
        "10:37: agents.worker.healthcheck.intervl: unknown key 'intervl'; did you mean 'interval'? allowed: "
        "http, tcp, cmd, log, registry, interval, timeout, retries, start_period, x-*",
    ]


def test_not_yaml_gives_parser_position(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "agents:\n  a: [1, 2\n  b: 3\n")
    assert found.startswith("3:") and "not valid YAML" in found


def test_duplicate_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, "agents:\n  a: {script: a.py}\n  a: {script: b.py}\n")
    assert found == ["3:3: agents.a: duplicate key 'a' (first defined on line 2)"]


MERGE = "`<<` merges a map or a list of maps (such as *base) into this map; this is neither"


@pytest.mark.parametrize(
    "text, expected",
    [
        # A duplicate key whose kept value has the wrong type: both are reported; neither reaches the builder.
        ("agents: {a: {script: a.py}, a: {script: 5}}\n",
         ["1:29: agents.a: duplicate key 'a' (first defined on line 1)",
          "1:33: agents.a.script: expected a string, got an integer"]),
        ("agents:\n  a: {script: a.py, args: .inf}\n  b: {script: 7}\n",
         ["2:27: agents.a.args: '.inf' is not a finite number", "3:7: agents.b.script: expected a string, got an integer"]),
        ("agents:\n  a: {script: a.py, stop_grace_period: .nan, restart: sometimes}\n",
         ["2:40: agents.a.stop_grace_period: '.nan' is not a finite number",
          "2:46: agents.a.restart: must be one of: no, on-failure, always, unless-stopped (got 'sometimes')"]),
        ("agents:\n  a: {<<: 5, script: [a.py]}\n",
         [f"2:11: agents.a: {MERGE}", "2:14: agents.a.script: expected a string, got a list"]),
        # The maps of a merge list still merge (and are checked); only the rest is dropped.
        ("x-base: &base {script: 5}\nagents:\n  a: {<<: [*base, 5]}\n",
         ["1:16: agents.a.script: expected a string, got an integer", f"3:19: agents.a: {MERGE}"]),
        ("agents:\n  a: {script: !!int x}\n", ["2:15: agents.a.script: invalid value 'x' for the tag !!int"]),
        ("agents:\n  a: {script: a.py, args: [!!bool maybe, !!timestamp x]}\n",
         ["2:28: agents.a.args[0]: invalid value 'maybe' for the tag !!bool",
          "2:42: agents.a.args[1]: invalid value 'x' for the tag !!timestamp"]),
    ],
)
def test_yaml_level_problems_are_reported_with_every_schema_problem(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_unknown_top_level_key_names_allowed(tmp_path: Path) -> None:
    found = problems(tmp_path, "agent:\n  script: a.py\nagents: {a: {script: a.py}}\n")
    assert found == ["1:1: agent: unknown key 'agent'; did you mean 'agents'? allowed: name, python, registry, tracing, agents, x-*"]


def test_required_variable_error_names_file_key_and_message(tmp_path: Path) -> None:
    found = problems(tmp_path, "agents:\n  a:\n    script: a.py\n    args: ['${TOKEN:?set TOKEN to your API token}']\n")
    assert found == ["4:12: agents.a.args[0]: required variable TOKEN is missing a value: set TOKEN to your API token"]


def test_malformed_interpolation(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "agents:\n  a:\n    script: a.py\n    healthcheck: {log: 'ready ${ x'}\n")
    assert found.startswith("4:19: agents.a.healthcheck.log: invalid interpolation format") and "$$" in found


def test_a_dollar_that_starts_no_variable_is_kept_as_compose_v2_does(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("agents:\n  a:\n    script: a.py\n    args: ['a $ string', '$1', '$$HOME']\n"
                    "    healthcheck: {log: 'ready$'}\n")
    agent = loader.load_project([path], environ={}).agents["a"]
    assert agent.args == ("a $ string", "$1", "$HOME") and agent.healthcheck.target == "ready$"


@pytest.mark.parametrize(
    "agent, expected",
    [
        ("{args: [x]}", "agents.a: an agent needs exactly one of script, module or command (has: none)"),
        ("{script: a.py, module: m}", "agents.a: use only one of script, module"),
        ("{script: a.py, healthcheck: {interval: 1s}}",
         "agents.a.healthcheck: a healthcheck needs exactly one of http, tcp, cmd, log, registry (has: none)"),
        ("{script: a.py, healthcheck: {tcp: 'localhost'}}",
         "agents.a.healthcheck.tcp: expected host:port, such as 127.0.0.1:8080 (got 'localhost')"),
        ("{script: a.py, healthcheck: {http: 'localhost:80'}}", "agents.a.healthcheck.http: not an http(s) URL: 'localhost:80'"),
        ("{script: a.py, healthcheck: {log: '(unclosed'}}", "agents.a.healthcheck.log: not a valid regular expression"),
        ("{script: a.py, healthcheck: {registry: false}}", "agents.a.healthcheck.registry: must be one of: true, wired (got False)"),
        ("{script: a.py, stop_signal: SIGNOPE}", "agents.a.stop_signal: unknown signal 'SIGNOPE'"),
        ("{script: a.py, backoff: {initial: 1m, maximum: 2s}}", "agents.a.backoff.maximum: maximum (2s) is below initial (60s)"),
        ("{script: a.py, resources: {cpu_limit: '0'}}", "agents.a.resources.cpu_limit: cpu_limit must be greater than 0"),
        ("{script: a.py, python: {requires: 'three'}}", "agents.a.python.requires: not a PEP 440 version specifier: 'three'"),
        ("{script: a.py, python: {packages: ['not a req!']}}", "agents.a.python.packages[0]: not a PEP 508 requirement"),
        ("{script: a.py, depends_on: {b: {condition: ready}}}", "agents.a.depends_on.b.condition: must be one of: started, healthy"),
        ("{script: a.py, environment: [=x]}", "agents.a.environment[0]: invalid value '=x'"),
        ("{script: a.py, environment: 'A=1'}", "agents.a.environment: expected a map or a list, got a string ('A=1')"),
        ("{script: a.py, max_restarts: -1}", "agents.a.max_restarts: must be at least 0 (got -1)"),
        ("{script: a.py, depends_on: [a, a]}", "agents.a.depends_on: contains the same entry twice"),
        ("{script: ''}", "agents.a.script: must not be empty"),
        ("[script, a.py]", "agents.a: expected a map, got a list"),
    ],
)
def test_agent_mistakes(tmp_path: Path, agent: str, expected: str) -> None:
    found = problems(tmp_path, f"agents:\n  a: {agent}\n")
    assert any(expected in line for line in found), found


def test_invalid_agent_name(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "agents:\n  'bad name': {script: a.py}\n")
    assert found.startswith("2:3: agents.bad name: invalid name 'bad name'")


@pytest.mark.parametrize(
    "agents, expected",
    [
        ("  a: {script: a.py, depends_on: [b]}\n  b: {script: b.py, depends_on: [c]}\n  c: {script: a.py, depends_on: [a]}\n",
         "4:34: agents.c.depends_on.a: dependency cycle: a -> b -> c -> a"),
        ("  c: {script: a.py, depends_on: {a: {condition: healthy}}}\n  a: {script: a.py, depends_on: [c]}\n",
         "3:34: agents.a.depends_on.c: dependency cycle: c -> a -> c"),
        ("  ok: {script: a.py}\n  a:\n    script: a.py\n    depends_on: [ok, a]\n",
         "5:22: agents.a.depends_on.a: dependency cycle: a -> a"),
    ],
)
def test_a_dependency_cycle_is_located_at_the_entry_that_closes_it(tmp_path: Path, agents: str, expected: str) -> None:
    assert problems(tmp_path, "agents:\n" + agents) == [expected]


def test_every_cycle_is_located(tmp_path: Path) -> None:
    agents = ("  a: {script: a.py, depends_on: [b]}\n  b: {script: a.py, depends_on: [a]}\n"
              "  c: {script: a.py, depends_on: [d]}\n  d: {script: a.py, depends_on: [c]}\n")
    assert problems(tmp_path, "agents:\n" + agents) == [
        "3:34: agents.b.depends_on.a: dependency cycle: a -> b -> a",
        "5:34: agents.d.depends_on.c: dependency cycle: c -> d -> c",
    ]


def test_a_long_chain_validates_quickly_and_its_cycle_is_found(tmp_path: Path) -> None:
    lines = ["agents:", "  a0: {script: a.py}"] + [f"  a{i}: {{script: a.py, depends_on: [a{i - 1}]}}" for i in range(1, 1000)]
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    (tmp_path / "a.py").write_text("")
    assert len(loader.load_project([path], environ={}).agents) == 1000
    lines[1] = "  a0: {script: a.py, depends_on: [a999]}"
    (found,) = problems(tmp_path, "\n".join(lines) + "\n")
    assert found.startswith("3:35: agents.a1.depends_on.a0: dependency cycle: a0 -> a999 -> a998 -> ")
    assert found.endswith(" -> a2 -> a1 -> a0")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: 'my project'\nagents: {a: {script: a.py}}\n",
         "1:1: name: invalid name 'my project': use letters, digits, '_', '.' and '-', starting with a letter or digit"),
        ("agents: {a: {module: 'my-agent'}}\n",
         "1:14: agents.a.module: invalid module name 'my-agent': use a dotted Python name such as mypkg.agent"),
        ("agents: {a: {script: a.py, stop_signal: 'TERM!'}}\n",
         "1:28: agents.a.stop_signal: invalid signal 'TERM!': use a name such as SIGTERM, TERM or SIGHUP"),
    ],
)
def test_a_value_of_the_wrong_form_says_which_form(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_registry_url_and_host(tmp_path: Path) -> None:
    found = problems(tmp_path, "registry: {url: 'http://h:1', host: h, port: 99999}\nagents: {a: {script: a.py}}\n")
    assert "1:12: registry.url: use either url or host/port, not both" in found
    assert any("registry.port: must be between 1 and 65535" in f for f in found)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a map with `agents:` at the top level"),
        ("name: x\n", "no agents defined"),
        ("agents: {}\n", "no agents defined"),
        ("agents: [a]\n", "agents: expected a map, got a list"),
        ("agents:\n  a: &x {script: a.py, args: [*x]}\n", "recursive YAML alias"),
    ],
)
def test_document_shape(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in line for line in found), found


@pytest.mark.parametrize(
    "text, expected",
    [
        ("# a comment \x0c here\nagents: {a: {script: a.py}}\n",
         "1:13: not valid YAML: control character U+000C (form feed) is not allowed; "
         "remove it, or write \\x0c inside double quotes"),
        ('agents:\n  a: {script: "a\x01.py"}\n',
         "2:17: not valid YAML: control character U+0001 is not allowed; remove it, or write \\x01 inside double quotes"),
        ("agents: {a: {script: a.py}}\n\x00", "2:1: not valid YAML: control character U+0000 (NUL) is not allowed; "
                                              "remove it, or write \\x00 inside double quotes"),
        ("agents: {a: {script: a\ufffe.py}}\n",
         "1:23: not valid YAML: character U+FFFE is not allowed; remove it, or write \\ufffe inside double quotes"),
    ],
)
def test_characters_yaml_does_not_allow_are_located(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_characters_yaml_allows_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    (tmp_path / "a.py").write_text("")
    path.write_text("agents:\n  a: {script: a.py, args: [\"tab\\there\", \"\\x0c\", caf\u00e9, \u2028x]}\r\n", encoding="utf-8")
    assert loader.load_project([path], environ={}).agents["a"].args == ("tab\there", "\x0c", "caf\u00e9", "x")


DEEP = "nested more than 100 levels deep"


@pytest.fixture(params=sorted(yamlload.LOADERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test that takes it runs with libyaml (when PyYAML has it) and with the pure-Python parser."""
    monkeypatch.setattr(yamlload, "PARSER", request.param)
    return str(request.param)


@pytest.mark.parametrize(
    "nested",
    ["[" * 490 + "]" * 490, "{k: " * 500 + "1" + "}" * 500, "\n" + "  - " * 600 + "1", "[" * 100_000],
    ids=["flow-lists", "flow-maps", "block-lists", "unclosed"],
)
def test_deep_nesting_is_a_located_error(tmp_path: Path, parser: str, nested: str) -> None:
    (found,) = problems(tmp_path, f"x-deep: {nested}\nagents: {{a: {{script: a.py}}}}\n")
    assert re.fullmatch(rf"{1 + nested.startswith(chr(10))}:\d+: not valid YAML: {DEEP}", found), found


@pytest.mark.parametrize(
    "text, expected",
    [
        ("agents:\n\ta: {script: a.py}\n", "2:1: not valid YAML: tab character: indent with spaces"),
        ("agents:\n  a:\n    script: a.py\n\t  args: [x]\n", "4:1: not valid YAML: tab character: indent with spaces"),
        ("agents:\n  a: {script: a.py}\n b: {script: b.py}\n",
         "3:2: not valid YAML: bad indentation: this line does not line up with the keys above it"),
        ("agents:\n  a:\n    script: a.py\n     args: [x]\n", "4:10: not valid YAML: unexpected ':'"),
        ("agents:\n  a: {script: a.py, args: [x}\n", "2:29: not valid YAML: a list opened with '[' is not closed"),
        ("agents:\n  a: {script: 'a.py}\n", "3:1: not valid YAML: a quoted string is not closed"),
        ("agents:\n  a: {script: @a.py}\n", "2:15: not valid YAML: '@' cannot start a value: put the value in quotes"),
        ("agents:\n  a: *base\n", "2:6: not valid YAML: an alias (*name) must refer to an anchor (&name) defined above it"),
        ("agents: {}\n---\nagents: {}\n", "2:1: not valid YAML: only one YAML document is allowed"),
    ],
)
def test_syntax_errors_say_what_to_fix(tmp_path: Path, parser: str, text: str, expected: str) -> None:
    (found,) = problems(tmp_path, text)
    assert found.startswith(expected), found
    assert "token" not in found and "<block" not in found  # never the parser's own vocabulary


def test_nesting_through_aliases_is_bounded_too(tmp_path: Path) -> None:
    chain = ["x-0: &l0 " + "[" * 40 + "1" + "]" * 40]
    chain += [f"x-{i}: &l{i} " + "[" * 40 + f"*l{i - 1}" + "]" * 40 for i in range(1, 15)]
    found = problems(tmp_path, "\n".join(chain) + "\nagents: {a: {script: a.py, args: *l14}}\n")
    assert any("agents.a.args[0]" in line and DEEP + " (through aliases)" in line for line in found), found


def test_nesting_up_to_the_limit_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    path = tmp_path / "m.yaml"
    path.write_text("x-deep: " + "[" * 95 + "]" * 95 + "\nagents: {a: {script: a.py}}\n")
    assert list(loader.load_project([path], environ={}).agents) == ["a"]


HUGE = "9" * 400


@pytest.mark.parametrize(
    "field, expected",
    [
        (f"stop_grace_period: '{HUGE}h'", "agents.a.stop_grace_period: too large for a duration"),
        (f"stop_grace_period: {HUGE}", "agents.a.stop_grace_period: too large for a duration"),
        (f"healthcheck: {{log: x, interval: '{HUGE}.5'}}", "agents.a.healthcheck.interval: too large for a duration"),
        (f"backoff: {{initial: 1s, maximum: '{HUGE}m'}}", "agents.a.backoff.maximum: too large for a duration"),
        (f"resources: {{timeout: '{HUGE}s'}}", "agents.a.resources.timeout: too large for a duration"),
        (f"resources: {{memory_limit: '{HUGE}TB'}}", "agents.a.resources.memory_limit: too large for a size"),
        (f"resources: {{memory_limit: '{HUGE}.0'}}", "agents.a.resources.memory_limit: too large for a size"),
        (f"resources: {{cpu_limit: '{HUGE}'}}", "agents.a.resources.cpu_limit: too large for a number of CPUs"),
        (f"resources: {{cpu_limit: {HUGE}}}", "agents.a.resources.cpu_limit: too large for a number of CPUs"),
    ],
)
def test_numbers_too_large_are_located_errors(tmp_path: Path, field: str, expected: str) -> None:
    (found,) = problems(tmp_path, f"agents:\n  a: {{script: a.py, {field}}}\n")
    assert found.startswith("2:") and expected in found, found
    assert len(found) < 200  # the 400 digits are not repeated back


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"agents:\n  a: {script: \xff\xfe}\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        loader.load_project([path], environ={})


def test_missing_file_and_bad_project_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        loader.load_project([tmp_path / "nope.yaml"], environ={})
    path = tmp_path / "m.yaml"
    path.write_text("agents: {a: {script: a.py}}\n")
    with pytest.raises(ConfigError, match="invalid project name"):
        loader.load_project([path], project_name="no spaces", environ={})


def test_paths_that_do_not_exist_are_located_errors(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    found = problems(tmp_path, """\
        python: {interpreter: ./envs/missing/bin/python}
        agents:
          a:
            script: gone.py
            working_dir: nowhere
            interpreter: ~/no/such/python-mesh-compose-test
            env_file: [missing.env]
          b: {script: a.py, working_dir: a.py, interpreter: python3.12}
          c: {script: sub}
        """)
    home = Path("~").expanduser()
    assert found == [
        f"1:10: python: interpreter {tmp_path}/envs/missing/bin/python does not exist",
        f"4:5: agents.a: script {tmp_path}/gone.py does not exist",
        f"5:5: agents.a: working_dir {tmp_path}/nowhere does not exist",
        f"6:5: agents.a: interpreter {home}/no/such/python-mesh-compose-test does not exist",
        f"7:16: agents.a.env_file[0]: cannot read env_file '{tmp_path}/missing.env': No such file or directory",
        f"8:21: agents.b: working_dir {tmp_path}/a.py is not a directory",  # a bare python3.12 is looked up on PATH
        f"9:7: agents.c: script {tmp_path}/sub is not a file",
    ]


NO_SUCH_USER = "~no-such-user-mesh-compose"  # Path.expanduser raises RuntimeError for it


def test_a_home_of_a_user_that_does_not_exist_is_a_path_that_does_not_exist(tmp_path: Path) -> None:
    found = problems(tmp_path, f"""\
        python: {{interpreter: {NO_SUCH_USER}/bin/python}}
        agents:
          a: {{script: {NO_SUCH_USER}/a.py, working_dir: {NO_SUCH_USER}, env_file: [{NO_SUCH_USER}/.env]}}
        """)
    assert found == [
        f"1:10: python: interpreter {tmp_path}/{NO_SUCH_USER}/bin/python does not exist",
        f"3:7: agents.a: script {tmp_path}/{NO_SUCH_USER}/a.py does not exist",
        f"3:48: agents.a: working_dir {tmp_path}/{NO_SUCH_USER} does not exist",
        f"3:100: agents.a.env_file[0]: cannot read env_file '{tmp_path}/{NO_SUCH_USER}/.env': No such file or directory",
    ]
    with pytest.raises(ConfigError, match="no such file"):
        loader.load_project([f"{NO_SUCH_USER}/mesh-compose.yaml"], cwd=tmp_path, environ={})
    with pytest.raises(ConfigError, match="no-such-user"):
        loader.load_project([tmp_path / "mesh-compose.yaml"], env_files=[f"{NO_SUCH_USER}/.env"], environ={})


def test_relative_paths_start_at_the_project_directory(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "api.py").write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / "tools.py").write_text("")
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("agents:\n  api: {script: agents/api.py, working_dir: agents, interpreter: .venv}\n"
                    "  tools: {module: tools, interpreter: python3}\n")
    project = loader.load_project([path], environ={})
    assert project.agents["api"].working_dir == tmp_path / "agents"


def test_missing_env_file_of_an_agent(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "agents:\n  a: {script: a.py, env_file: [missing.env]}\n")
    assert found.startswith("2:32: agents.a.env_file[0]: cannot read env_file")


def test_errors_of_several_files_together_sorted(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    two = tmp_path / "two.yaml"
    (tmp_path / "a.py").write_text("")
    one.write_text("agents:\n  a: {script: a.py, restart: maybe}\n")
    two.write_text("agents:\n  a: {stop_signal: 'no such'}\n")
    with pytest.raises(ConfigError) as caught:
        loader.load_project([two, one], environ={})
    assert [p.file for p in caught.value.problems] == sorted([str(one), str(two)])
    assert caught.value.message.startswith("2 problems in the project:")


@pytest.mark.parametrize("agent, expected", [
    ("{script: a.py, restart: on-falure}", "2:21: agents.a.restart: did you mean 'on-failure'? must be one of: "),
    ("{script: a.py, depends_on: {b: {condition: completed_sucessfully}}}\n  b: {script: b.py}",
     "agents.a.depends_on.b.condition: did you mean 'completed_successfully'? must be one of: "),
])
def test_a_misspelt_value_gets_a_did_you_mean(tmp_path: Path, agent: str, expected: str) -> None:
    found = problems(tmp_path, f"agents:\n  a: {agent}\n")
    assert any(expected in line for line in found), found


def test_an_interpreter_name_not_on_path_is_a_located_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "python: {interpreter: python3.99}\nagents:\n  a: {script: a.py, interpreter: nopython7}\n")
    assert found == ["1:10: python: interpreter python3.99 is not a command on PATH (nor a file in the project directory)",
                     "3:21: agents.a: interpreter nopython7 is not a command on PATH (nor a file in the project directory)"]
