"""Property: whatever the input, the loader returns a Project or raises ConfigError, nothing else.

Each class of input that once crashed the loader has its own strategy (see
tests/support/config_strategies.py): raw text and bytes, YAML-level problems
mixed with wrong types, characters YAML forbids, deep nesting, numbers too
large for a float, interpolation soup. Two more build documents from the
format's own vocabulary (so they get deep into validation) and mutate the
valid full fixture (so they get into model building and planning).

The classes a fresh fuzzer found (nesting in every place, control characters
in every kind of field, huge numbers, special files and long paths,
pathological .env files, huge documents) have generators of whole projects
(`CASE_GENERATORS`): each document must be settled within the budget.

About 5,500 examples, derandomized so CI runs the same ones every time.
A valid result must also plan, and serialize to JSON without Infinity/NaN.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_strategies import (
    CASE_GENERATORS,
    ENVIRON,
    HOSTILE_TEXTS,
    Case,
    control_char_texts,
    deep_texts,
    examples,
    flow_documents,
    interpolation_texts,
    mutate,
    overflow_texts,
    prepare,
    random_value,
    raw_bytes,
    raw_texts,
    write_case,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshcompose.config import loader, yamlload
from meshcompose.config.validate import schema
from meshcompose.errors import ConfigError
from meshcompose.model import Project
from meshcompose.plan import planner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEFAULT_PARSER = yamlload.PARSER
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    prepare(root)
    for name in ("full.yaml", "api.env", "worker.env"):
        shutil.copy(FIXTURES / name, root / name)
    before = os.environ.get("MESH_COMPOSE_CACHE_DIR")
    os.environ["MESH_COMPOSE_CACHE_DIR"] = str(root / "cache")  # the memo of valid documents and plans
    yield root
    if before is None:
        del os.environ["MESH_COMPOSE_CACHE_DIR"]
    else:
        os.environ["MESH_COMPOSE_CACHE_DIR"] = before


def load_or_config_error(path: Path, content: str | bytes | None = None, **kwargs: Any) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    try:
        project = loader.load_project([path], environ=ENVIRON, **kwargs)
        planner.check(project)
    except ConfigError as error:
        assert error.problems and all(p.message for p in error.problems)
        assert not any(re.search(r"(?<!http)\(s\)", p.message) for p in error.problems)  # never "agent(s)"
        return
    assert isinstance(project, Project)
    json.dumps(loader.project_to_dict(project), allow_nan=False)  # what `config --format json` prints


# -- one strategy per class of hostile input -------------------------------------------------


@settings(FUZZ, max_examples=examples(1000))
@given(text=raw_texts)
def test_raw_text(workdir: Path, text: str) -> None:
    load_or_config_error(workdir / "raw.yaml", text)


@settings(FUZZ, max_examples=examples(400))
@given(content=raw_bytes)
def test_raw_bytes(workdir: Path, content: bytes) -> None:
    load_or_config_error(workdir / "bytes.yaml", content)


@settings(FUZZ, max_examples=examples(1000))
@given(text=flow_documents())
def test_yaml_level_problems_mixed_with_wrong_types(workdir: Path, text: str) -> None:
    load_or_config_error(workdir / "flow.yaml", text, profiles=["debug"])


@settings(FUZZ, max_examples=examples(600))
@given(text=control_char_texts())
def test_characters_yaml_does_not_allow(workdir: Path, text: str) -> None:
    load_or_config_error(workdir / "chars.yaml", text)


@settings(FUZZ, max_examples=examples(300))
@given(text=deep_texts())
def test_deep_nesting(workdir: Path, text: str) -> None:
    load_or_config_error(workdir / "deep.yaml", text)


@settings(FUZZ, max_examples=examples(500))
@given(text=overflow_texts())
def test_numbers_too_large(workdir: Path, text: str) -> None:
    load_or_config_error(workdir / "numbers.yaml", text)


@settings(FUZZ, max_examples=examples(600))
@given(text=interpolation_texts())
def test_interpolation(workdir: Path, text: str) -> None:
    load_or_config_error(workdir / "dollars.yaml", text)


@settings(FUZZ, max_examples=examples(300))
@given(text=HOSTILE_TEXTS)
def test_libyaml_and_the_python_parser_read_documents_alike(text: str) -> None:
    """libyaml parses where PyYAML has it; the pure-Python parser elsewhere. Where both read a
    document, they read the same data with the same problems (they may disagree on what is
    valid YAML: libyaml allows a tab as a separator, PyYAML does not)."""
    read = {}
    for parser in yamlload.LOADERS:
        yamlload.PARSER = parser
        read[parser] = yamlload.load_text(text, "f.yaml")
    yamlload.PARSER = DEFAULT_PARSER
    parsed = [result for result in read.values() if result.data is not None]
    assert all((r.data, r.problems) == (parsed[0].data, parsed[0].problems) for r in parsed)


@pytest.mark.skipif("libyaml-composer" not in yamlload.LOADERS, reason="libyaml older than 0.2.6, or none")
@settings(FUZZ, max_examples=examples(300))
@given(text=HOSTILE_TEXTS)
def test_libyaml_composes_as_the_python_composer_does(text: str) -> None:
    """libyaml's own composer (the default) against the Python composer fed by the same libyaml
    parser: the same data, marks and problems for every text, the errors (too deep, a
    duplicate anchor, an undefined alias, a second document) included."""
    assert_composed_alike(text)


def assert_composed_alike(text: str) -> None:
    read = {}
    for parser in ("libyaml", "libyaml-composer"):
        yamlload.PARSER = parser
        read[parser] = yamlload.load_text(text, "f.yaml")
    yamlload.PARSER = DEFAULT_PARSER
    events, composed = read["libyaml"], read["libyaml-composer"]
    assert (composed.data, composed.marks, composed.problems) == (events.data, events.marks, events.problems)


TRICKY_NESTING = [  # the root is level 1
    "x: " + "[" * 98 + "1" + "]" * 98,  # the deepest allowed
    "x: " + "[" * 99 + "1" + "]" * 99,  # one past it: the scalar is the first node too deep
    "x: " + "[" * 99 + "[]" + "]" * 99,  # an empty list past it
    "? " + "[" * 150 + "]" * 150 + "\n: 1",  # too deep inside a key
    "a: &a " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60,  # deep only through an alias
    "a: " + "[" * 97 + "&a 1" + "]" * 97 + "\nb: " + "[" * 99 + "*a" + "]" * 99,  # an alias one past the limit
    "a: " + "[" * 97 + "&x [[1]]" + "]" * 97 + "\nb: *x",  # too deep where the anchor is, not where its alias is
    "b: &a [x]\na: " + "[" * 98 + "*a" + "]" * 98,  # an alias of a list, where its items would be too deep
    "a: &r [*r]\nb: {<<: &m {k: 1}, j: *m}",  # recursive alias, merge
    "a: &x 1\nb: &x 2",  # duplicate anchor
    "a: *nowhere",  # undefined alias
    "a: 1\n---\nb: 2",  # a second document
    "a: 1\na: 2\n",  # a duplicate key
    "x: " + "[" * 100 + "]" * 100 + "\ny: [unclosed",  # too deep, and a syntax error further down
]


@pytest.mark.skipif("libyaml-composer" not in yamlload.LOADERS, reason="libyaml older than 0.2.6, or none")
@pytest.mark.parametrize("text", TRICKY_NESTING)
def test_libyaml_composes_tricky_nesting_as_the_python_composer_does(text: str) -> None:
    assert_composed_alike(text)


# -- documents from the format's vocabulary, and mutations of the full fixture ----------------


def walk(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def vocabulary() -> list[str]:
    words = {"agent", "working_directory", "python_interpreter", "a", "b", "api", "worker", "debug"}
    for node in walk(schema()):
        words.update(node.get("properties", {}))
    return sorted(words)


KEYS = vocabulary()
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@settings(FUZZ, max_examples=examples(400))
@given(rng=st.randoms(use_true_random=True))
def test_random_documents(workdir: Path, rng: random.Random) -> None:
    agents = {rng.choice(KEYS): random_value(rng, KEYS) for _ in range(rng.randint(0, 4))}
    top = {rng.choice(KEYS): random_value(rng, KEYS) for _ in range(rng.randint(0, 3))}
    load_or_config_error(workdir / "random.yaml", yaml.dump({**top, "agents": agents}, Dumper=DUMPER),
                         profiles=["debug"])


@settings(FUZZ, max_examples=examples(500))
@given(rng=st.randoms(use_true_random=True))
def test_mutations_of_the_full_fixture(workdir: Path, rng: random.Random) -> None:
    document = copy.deepcopy(FULL)
    for _ in range(rng.randint(1, 3)):
        document = mutate(document, rng, KEYS)
    text = yaml.dump(document, Dumper=DUMPER, sort_keys=False)
    load_or_config_error(workdir / "mutated.yaml", text, profiles=rng.choice([[], ["debug"]]))


def test_the_full_fixture_itself_loads_in_the_fuzz_directory(workdir: Path) -> None:
    """The mutations start from a valid project: the files it names exist there."""
    project = loader.load_project([workdir / "full.yaml"], environ=ENVIRON, profiles=["debug"])
    assert len(project.agents) == 6


FULL = yaml.safe_load((FIXTURES / "full.yaml").read_text())


# -- whole projects of the classes a fresh fuzzer found ----------------------------------------------

BUDGET_SECONDS = 20  # per document; its memory is measured through the real CLI (test_cli_config)


@pytest.mark.parametrize("kind", sorted(CASE_GENERATORS))
def test_hostile_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))
    rng = random.Random(f"{kind}-in-process")
    for _ in range(20):
        case = CASE_GENERATORS[kind](rng)
        path = write_case(tmp_path, case)
        started = time.monotonic()
        try:
            project = loader.load_project([path], environ={**ENVIRON, **case.environ})
            planner.check(project)
            json.dumps(loader.project_to_dict(project), allow_nan=False)
        except ConfigError as error:
            assert error.problems and all(p.message for p in error.problems), case
        assert time.monotonic() - started < BUDGET_SECONDS, _shown(case)


def _shown(case: Case) -> str:
    return repr(case.document[:300]) + f" and {sorted(case.files)}"
