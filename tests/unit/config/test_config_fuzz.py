"""Property: whatever the input, the loader returns a Project or raises ConfigError, nothing else.

Three sources of input: raw text, random documents built from the format's
own vocabulary (so they get past the parser and deep into validation), and
random mutations of the valid full fixture (so they get past validation and
into model building). Together a few thousand examples, well under a minute.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, List

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshcompose.config import loader
from meshcompose.errors import ConfigError
from meshcompose.model import Project
from meshcompose.config.validate import schema

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield None, node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def vocabulary() -> List[str]:
    words = {"agent", "working_directory", "python_interpreter", "a", "b", "api", "worker", "debug"}
    for _, node in walk(schema()):
        words.update(node.get("properties", {}))
    return sorted(words)


KEYS = st.sampled_from(vocabulary()) | st.text(max_size=8)
TEXT = st.sampled_from(
    ["no", "auto", "1m30s", "500ms", "512MB", "${X:-1}", "$X", "${X:?gone}", "$$", "a.py", "x.y", "healthy",
     "registered", "on-failure", "SIGTERM", "http://127.0.0.1:1/h", "127.0.0.1:80", "(", ">=3.9", "A=1", "-1"]
) | st.text(max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=5),
                      max_leaves=25)
ENVIRON = {"X": "5"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    for name in ("full.yaml", "api.env", "worker.env"):
        shutil.copy(FIXTURES / name, root / name)
    return root


def load_or_config_error(path: Path, **kwargs: Any) -> None:
    try:
        project = loader.load_project([path], environ=ENVIRON, **kwargs)
    except ConfigError as error:
        assert error.problems and all(str(p) for p in error.problems)
        return
    assert isinstance(project, Project)
    loader.project_to_dict(project)  # the normalized form must render too


@settings(FUZZ, max_examples=800)
@given(text=st.text(alphabet=st.sampled_from(list("agents:{}[]-,'\"&*!<>|#$%@`? \n\tscript.py0x")), max_size=80))
def test_raw_text(workdir: Path, text: str) -> None:
    path = workdir / "raw.yaml"
    path.write_text(text)
    load_or_config_error(path)


@settings(FUZZ, max_examples=900)
@given(agents=st.dictionaries(KEYS, st.dictionaries(KEYS, VALUES, max_size=6) | VALUES, max_size=4),
       top=st.dictionaries(KEYS, VALUES, max_size=3))
def test_random_documents(workdir: Path, agents: Any, top: Any) -> None:
    path = workdir / "random.yaml"
    path.write_text(yaml.safe_dump({**top, "agents": agents}))
    load_or_config_error(path, profiles=["debug"])


def mutate(document: Any, data: st.DataObject) -> Any:
    """Pick a random place in the document and delete, replace or add something there."""
    node = document
    while True:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        containers = [(k, v) for k, v in children if isinstance(v, (dict, list)) and v]
        if not containers or data.draw(st.booleans()):
            break
        _, node = data.draw(st.sampled_from(containers))
    action = data.draw(st.sampled_from(["delete", "replace", "add"]))
    if isinstance(node, dict) and node and action != "add":
        key = data.draw(st.sampled_from(sorted(node)))
        if action == "delete":
            del node[key]
        else:
            node[key] = data.draw(VALUES)
    elif isinstance(node, dict):
        node[data.draw(KEYS)] = data.draw(VALUES)
    elif isinstance(node, list):
        node.append(data.draw(VALUES)) if action == "add" or not node else node.__setitem__(0, data.draw(VALUES))
    return document


@settings(FUZZ, max_examples=1100)
@given(data=st.data())
def test_mutations_of_the_full_fixture(workdir: Path, data: st.DataObject) -> None:
    document = copy.deepcopy(FULL)
    for _ in range(data.draw(st.integers(1, 3))):
        document = mutate(document, data)
    path = workdir / "mutated.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    load_or_config_error(path, profiles=data.draw(st.sampled_from([[], ["debug"]])))


FULL = yaml.safe_load((FIXTURES / "full.yaml").read_text())
