"""Each class of hostile input that crashed, hung or ate memory: a located error, fast and small.

The classes: interpolation nested past the one nesting bound (in the file, `.env` and an
env_file), expansion past the size bound, NUL characters in any field, integers too large
to print, paths too long for the system, special files where a file is read, an
unterminated quote in a `.env`, regular expressions nested too deep, thousands of unknown
dependencies, and huge one-line documents. Time and memory are asserted loosely (ten times
the measured cost): what matters is linear against quadratic, bounded against unbounded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from meshcompose.config import envfile, loader
from meshcompose.config.interpolate import InterpolationError, interpolate
from meshcompose.config.limits import MAX_DEPTH, MAX_EXPANSION, MAX_FILE_BYTES
from meshcompose.errors import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a.py").write_text("")
    return tmp_path


def problems_of(directory: Path, text: str, **kwargs: object) -> list[str]:
    """The problems of loading `text`, as `FILE:LINE:COL: key: message` lines (none: it loaded)."""
    path = directory / "mesh-compose.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        loader.load_project([path], environ=kwargs.pop("environ", {}), **kwargs)  # type: ignore[arg-type]
    except ConfigError as error:
        assert error.problems
        return [f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}" for p in error.problems]
    return []


def nested_default(depth: int, inner: str = "x") -> str:
    return "${V:-" * depth + inner + "}" * depth


# -- interpolation: one nesting bound, linear time, bounded size ---------------------------------


def test_interpolation_nested_to_the_bound_works_and_past_it_is_an_error() -> None:
    assert interpolate(nested_default(MAX_DEPTH), {}) == "x"
    with pytest.raises(InterpolationError, match=f"nested more than {MAX_DEPTH} levels deep"):
        interpolate(nested_default(MAX_DEPTH + 1), {})


def test_interpolation_of_40000_levels_is_an_error_in_linear_time() -> None:
    started = time.monotonic()
    for depth in (250, 40_000):
        with pytest.raises(InterpolationError, match="nested more than"):
            interpolate(nested_default(depth), {})
    assert time.monotonic() - started < 2


def test_interpolation_of_a_long_value_with_many_variables() -> None:
    text = "${A}" * 100_000 + "${B:-" + "x" * 100_000 + "}"
    started = time.monotonic()
    assert interpolate(text, {"A": "a"}) == "a" * 100_000 + "x" * 100_000
    assert time.monotonic() - started < 10


def test_unused_defaults_are_not_evaluated() -> None:
    assert interpolate("${X-${}}", {"X": "set"}) == "set"
    assert interpolate("${X:-{a}b}", {}) == "{a}b"
    assert interpolate("${X:-$${}}", {}) == "${}"  # `$$` does not hide the brace from the count


@pytest.mark.parametrize("where", ["file", ".env", "env_file"])
def test_nesting_past_the_bound_is_located_wherever_it_is_written(project: Path, where: str) -> None:
    deep = nested_default(250)
    if where == "file":
        found = problems_of(project, f'agents:\n  a:\n    script: a.py\n    args: ["{deep}"]\n')
        assert len(found) == 1 and found[0].startswith(f"{project / 'mesh-compose.yaml'}:4:")
        assert "agents.a.args[0]" in found[0] and "nested more than" in found[0]
    elif where == ".env":
        (project / ".env").write_text(f"A=1\nB={deep}\n")
        found = problems_of(project, "agents: {a: {script: a.py}}\n")
        assert found == [f"{project / '.env'}:2:1: : {_nesting_message()}"]
    else:
        (project / "a.env").write_text(f"A=1\n\nB={deep}\n")
        found = problems_of(project, "agents: {a: {script: a.py, env_file: a.env}}\n")
        assert found == [f"{project / 'a.env'}:3:1: : {_nesting_message()}"]


def _nesting_message() -> str:
    try:
        interpolate(nested_default(250), {})
    except InterpolationError as error:
        return error.message
    raise AssertionError("not an error")


def test_a_variable_expanded_half_a_million_times_is_an_error(project: Path) -> None:
    started = time.monotonic()
    found = problems_of(project, 'agents: {a: {script: a.py, args: ["' + "$A" * 500_000 + '"]}}\n',
                        environ={"A": "a" * 1100})
    assert len(found) == 1 and f"more than {MAX_EXPANSION:,} characters" in found[0], found
    assert time.monotonic() - started < 10


def test_an_env_file_that_doubles_at_each_line_is_an_error(project: Path) -> None:
    lines = ["V0=" + "x" * 64] + [f"V{i}=$V{i - 1}$V{i - 1}" for i in range(1, 40)]
    (project / ".env").write_text("\n".join(lines) + "\n")
    found = problems_of(project, "agents: {a: {script: a.py}}\n")
    assert len(found) == 1 and "more than" in found[0] and found[0].startswith(f"{project / '.env'}:"), found


def test_the_expansion_bound_counts_every_reading_of_the_same_env_file(project: Path) -> None:
    (project / "big.env").write_text("K=" + "x" * (MAX_FILE_BYTES // 2) + "\n")
    files = ", ".join(["big.env"] * 200)
    agents = ", ".join(f"a{i}: {{script: a.py, env_file: [{files}]}}" for i in range(5))
    found = problems_of(project, "agents: {" + agents + "}\n")
    assert len(found) == 1 and "more than" in found[0], found[:3]  # said once


# -- .env parsing: linear --------------------------------------------------------------------------


@pytest.mark.parametrize("quote", ["'", '"'])
def test_an_unterminated_quote_in_a_large_env_file_is_found_in_linear_time(quote: str) -> None:
    text = f"A={quote}start\n" + "B=value with some words in it\n" * 10_000  # 300 KB
    started = time.monotonic()
    with pytest.raises(envfile.EnvFileError, match="unterminated"):
        envfile.parse_env(text)
    assert time.monotonic() - started < 2


def test_a_quoted_value_over_many_lines_keeps_its_lines() -> None:
    assert envfile.parse_env('A="one\ntwo \\"x\\"\nthree"\nB=2\n') == {"A": 'one\ntwo "x"\nthree', "B": "2"}
    assert envfile.parse_env("A='one\\\ntwo'\nB=2\n") == {"A": "one\\\ntwo", "B": "2"}


# -- NUL characters: rejected where they enter -----------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("script", '"a.py\\0"'),
    ("working_dir", '"sub\\0dir"'),
    ("env_file", '"a\\0.env"'),
    ("args", '["x\\0y"]'),
    ("environment", '{K: "v\\0w"}'),
    ("healthcheck", '{cmd: ["true\\0"]}'),
    ("interpreter", '"./py\\0thon"'),
    ("develop", '{watch: [{path: "a\\0b"}]}'),
])
def test_a_nul_character_in_any_field_is_a_located_error(project: Path, field: str, value: str) -> None:
    found = problems_of(project, f"agents:\n  a:\n    script: a.py\n    {field}: {value}\n".replace(
        "script: a.py\n    script:", "script:"))
    assert found and all(":3:" in line or ":4:" in line for line in found), found
    assert any("NUL character" in line for line in found), found


def test_a_nul_character_from_an_env_file_is_located_at_its_line(project: Path) -> None:
    (project / "a.env").write_bytes(b"A=1\nB=x\x00y\n")
    found = problems_of(project, "agents: {a: {script: a.py, env_file: a.env}}\n")
    assert found == [f"{project / 'a.env'}:2:1: : a NUL character cannot be in an environment value"], found


def test_a_nul_character_from_the_caller_environment_is_a_located_error(project: Path) -> None:
    found = problems_of(project, 'agents: {a: {script: a.py, args: ["$V"]}}\n', environ={"V": "a\x00b"})
    assert len(found) == 1 and "agents.a.args[0]" in found[0] and "NUL character" in found[0], found


# -- integers too large to print --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0x" + "f" * 3600, "0b" + "1" * 20000, "9" * 5000])
def test_an_integer_too_large_to_print_is_a_located_error_even_in_an_extension(project: Path, text: str) -> None:
    found = problems_of(project, f"x-a: {text}\nagents: {{a: {{script: a.py}}}}\n")
    assert len(found) == 1 and found[0].startswith(f"{project / 'mesh-compose.yaml'}:1:6: x-a:"), found
    assert "too large" in found[0] and len(found[0]) < 300, found


# -- paths too long, special files, bounded reads ---------------------------------------------------

LONG = "x" * 300


@pytest.mark.parametrize("field, value", [
    ("script", f"{LONG}.py"), ("working_dir", LONG), ("env_file", LONG), ("interpreter", f"./{LONG}"),
    ("develop", f"{{watch: [{{path: {LONG}}}]}}"), ("develop", f"{{watch: [{{path: {LONG}/a}}]}}"),
])
def test_a_path_too_long_is_a_located_error(project: Path, field: str, value: str) -> None:
    run = "" if field == "script" else "command: [x]"
    found = problems_of(project, f"agents:\n  a:\n    {run}\n    {field}: {value}\n")
    assert found and all(":4:" in line for line in found), found
    assert any("name too long" in line for line in found), found


def test_a_project_file_path_too_long_is_an_error(project: Path) -> None:
    with pytest.raises(ConfigError, match="name too long"):
        loader.load_project([project / LONG], environ={})
    with pytest.raises(ConfigError, match="NUL character"):
        loader.load_project([project / "x\0y"], environ={})


def test_an_env_file_option_path_too_long_is_an_error(project: Path) -> None:
    (project / "mesh-compose.yaml").write_text("agents: {a: {script: a.py}}\n")
    for bad in (project / LONG, "x\0y"):
        with pytest.raises(ConfigError, match="name too long|NUL character"):
            loader.load_project([project / "mesh-compose.yaml"], env_files=[bad], environ={})


@pytest.fixture
def fifo(project: Path) -> Path:
    path = project / "fifo.env"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo.env", "."])
def test_an_env_file_that_is_not_a_regular_file_is_an_error(project: Path, fifo: Path, special: str) -> None:
    started = time.monotonic()
    found = problems_of(project, f"agents: {{a: {{script: a.py, env_file: {special}}}}}\n")
    assert len(found) == 1 and "not a regular file" in found[0] and ":1:" in found[0], found
    (project / "mesh-compose.yaml").write_text("agents: {a: {script: a.py}}\n")
    with pytest.raises(ConfigError, match="not a regular file"):
        loader.load_project([project / "mesh-compose.yaml"], env_files=[project / special], environ={})
    assert time.monotonic() - started < 5


def test_a_project_file_that_is_not_a_regular_file_is_an_error(project: Path, fifo: Path) -> None:
    for special in (Path("/dev/zero"), fifo):
        with pytest.raises(ConfigError, match="not a regular file|no such file"):
            loader.load_project([special], environ={})


def test_files_are_read_up_to_a_bound(project: Path) -> None:
    with (project / "huge.env").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    found = problems_of(project, "agents: {a: {script: a.py, env_file: huge.env}}\n")
    assert len(found) == 1 and "larger than" in found[0], found
    with (project / "huge.yaml").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="larger than"):
        loader.load_project([project / "huge.yaml"], environ={})


# -- regular expressions, many agents, huge documents ------------------------------------------------


def test_a_log_regex_nested_too_deep_is_a_located_error(project: Path) -> None:
    regex = "(" * 500 + "x" + ")" * 500
    found = problems_of(project, f"agents:\n  a:\n    script: a.py\n    healthcheck: {{log: '{regex}'}}\n")
    assert len(found) == 1 and ":4:" in found[0] and "nested more than" in found[0], found
    fine = "(" * 50 + "[(]x" + ")" * 50
    assert problems_of(project, f"agents:\n  a:\n    script: a.py\n    healthcheck: {{log: '{fine}'}}\n") == []


def test_five_thousand_agents_with_unknown_dependencies_are_reported_fast(project: Path) -> None:
    agents = "\n".join(f"  agent{i}: {{script: a.py, depends_on: [missing{i}]}}" for i in range(5000))
    started = time.monotonic()
    found = problems_of(project, "agents:\n" + agents + "\n")
    assert len(found) == 5000 and time.monotonic() - started < 15
    assert sum(len(line) for line in found) < 5000 * 300  # no list of every agent in every message


def test_an_eight_megabyte_one_line_flow_list_is_refused_quickly(project: Path) -> None:
    started = time.monotonic()
    found = problems_of(project, "x-big: [" + "1," * (4 * 1024 * 1024) + "1]\nagents: {a: {script: a.py}}\n")
    assert len(found) == 1 and "more than" in found[0], found
    assert time.monotonic() - started < 6


def test_a_directory_named_env_is_not_read_as_the_projects_env_file(project: Path) -> None:
    """`python -m venv .env` is common: the optional .env is only read when it is a file."""
    (project / ".env").mkdir()
    assert problems_of(project, "agents: {a: {script: a.py}}\n") == []


@pytest.mark.parametrize("field", ["script", "working_dir", "env_file", "args"])
def test_a_lone_surrogate_from_the_caller_is_a_located_error(project: Path, field: str) -> None:
    """A caller's environment decoded with surrogateescape keeps its escapes; a lone surrogate
    (given in-process) is no text any system call or file can take."""
    run = "" if field == "script" else "script: a.py, "
    value = '["$V"]' if field in ("env_file", "args") else '"$V"'
    found = problems_of(project, f"agents: {{a: {{{run}{field}: {value}}}}}\n", environ={"V": "a\ud800b"})
    assert found and "lone surrogate" in found[0], found
