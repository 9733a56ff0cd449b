"""jsonschema-rs settles valid documents; jsonschema stays the reference and explains the rest.

The fast verdict may only ever say "valid" where jsonschema says so too: a
document it passes is never checked again. Where they could disagree (the
regular expressions of `pattern`: ECMA 262 in Rust, Python's `re` in
jsonschema) it must stand aside.
"""

from __future__ import annotations

import copy
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from config_strategies import examples, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshcompose.config import memo, validate
from meshcompose.config.validate import schema, schema_problems
from meshcompose.config.yamlload import dotted

pytest.importorskip("jsonschema_rs")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FULL = yaml.safe_load((FIXTURES / "full.yaml").read_text())
REFERENCE = jsonschema.Draft202012Validator(schema())
KEYS = sorted({key for node in [schema(), *schema()["$defs"].values()] for key in node.get("properties", {})}
              | {"script", "args", "environment", "stop_grace_period", "depends_on", "x-note"})
# Strings where Python's `re` and ECMA 262 part ways: a final newline before `$`, Unicode digits
# and spaces (\d, \s), a BOM (\s in ECMA only), an information separator (\s in Python only), a
# line separator (`.` in Python only); and their printable-ASCII look-alikes, which must agree.
ODD = ["1\n", "10s\n", "\u0663", "\u0663s", "1\ufeff", "\ufeffA=1", "\x1cA=1", "A=1\u2028", "A=\u2028", "SIGTERM\n",
       "a.b\n", "1 s", " 1", "A=1", "A= 1", "SIG TERM", "pkg.mod", "1.5m", "512MB", "${X}", "-1", "a b=c"]
FIELDS = ["stop_grace_period", "stop_signal", "module", "environment", "name", "restart"]
FUZZ = settings(deadline=None, derandomize=True, database=None, max_examples=examples(400),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """schema_problems remembers valid documents: never read or fill the user's cache here."""
    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))


def fast(document: Any) -> bool:
    return validate._fast_verdict(memo.canonical(document), document)


def odd_mutation(rng: random.Random) -> Any:
    document = copy.deepcopy(FULL)
    agent = document["agents"][rng.choice(sorted(document["agents"]))]
    key = rng.choice(FIELDS)
    value = rng.choice(ODD)
    agent[key] = [value] if key == "environment" else value
    for _ in range(rng.randint(0, 3)):
        document = mutate(document, rng, KEYS)
    return document


@FUZZ
@given(rng=st.randoms(use_true_random=True))
def test_a_fast_valid_is_a_valid_for_jsonschema(rng: random.Random) -> None:
    document = odd_mutation(rng)
    valid = REFERENCE.is_valid(document)
    assert not fast(document) or valid
    if "\\" not in memo.canonical(document):
        assert fast(document) == valid  # printable ASCII: the fast verdict is the verdict


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", ODD)
def test_odd_strings_get_jsonschemas_answer(field: str, value: str) -> None:
    agent: dict[str, Any] = {"script": "a.py"}
    if field == "module":
        agent = {"module": value}
    elif field != "name":
        agent[field] = [value] if field == "environment" else value
    document = {"name": value, "agents": {"a": agent}} if field == "name" else {"agents": {"a": agent}}
    found = {(problem.path, problem.message) for _, problem in schema_problems(document, {})}
    assert found == _explained(document)


def _explained(document: Any) -> set[tuple[str, str]]:
    return {(dotted(path), message) for error in REFERENCE.iter_errors(document)
            for path, message in validate._explain(error, "")}


def test_the_fast_verdict_settles_the_benchmark_sized_file() -> None:
    agents = {f"a{i:04}": {"script": "agent.py", "args": [f"a{i:04}", "/tmp/m", "idle", "0"],
                           **({"depends_on": ["a0000"]} if i else {})} for i in range(1000)}
    assert fast({"agents": agents})
    agents["a0500"]["restart"] = "sometimes"
    assert not fast({"agents": agents})


LOAD = """
import sys
from meshcompose.config import loader
try:
    loader.load_project([sys.argv[1]])
except Exception as error:
    print(type(error).__name__)
print("jsonschema" in sys.modules, "jsonschema_rs" in sys.modules)
"""


def load_in_a_fresh_interpreter(tmp_path: Path, text: str) -> str:
    (tmp_path / "a.py").write_text("")
    (tmp_path / "mesh-compose.yaml").write_text(text)
    env = {**os.environ, "MESH_COMPOSE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "mesh-compose.yaml")],
                            capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip()


def test_a_valid_document_never_imports_jsonschema(tmp_path: Path) -> None:
    assert load_in_a_fresh_interpreter(tmp_path, "agents: {a: {script: a.py}}\n") == "False True"


def test_an_invalid_document_is_explained_by_jsonschema(tmp_path: Path) -> None:
    found = load_in_a_fresh_interpreter(tmp_path, "agents: {a: {script: a.py, restart: sometimes}}\n")
    assert found == "ConfigError\nTrue True"
