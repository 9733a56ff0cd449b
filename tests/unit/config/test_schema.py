"""The published schema: a valid draft 2020-12 schema that documents and closes every object."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from meshcompose.config.validate import schema, schema_text

ROOT = Path(__file__).resolve().parents[3]


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def test_is_a_valid_2020_12_schema_with_an_id() -> None:
    document = json.loads(schema_text())
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith("mesh-compose.schema.json")
    jsonschema.Draft202012Validator.check_schema(document)


def test_every_property_has_a_description() -> None:
    missing = []
    for path, node in walk(schema()):
        for name, sub in node.get("properties", {}).items() if path.split("/")[-1] != "properties" else ():
            resolved = sub
            if "$ref" in sub and "description" not in sub:
                resolved = schema()["$defs"][sub["$ref"].split("/")[-1]]
            if "description" not in resolved:
                missing.append(f"{path}/properties/{name}")
    assert missing == []


def test_every_object_is_closed_and_allows_extensions() -> None:
    for path, node in walk(schema()):
        if "properties" in node and path.split("/")[-1] != "properties":
            assert node.get("additionalProperties") is False, path
            assert "^x-" in node.get("patternProperties", {}), path


def test_short_and_long_forms_use_one_of() -> None:
    agent = schema()["$defs"]["agent"]["properties"]
    for key in ("environment", "env_file", "depends_on", "restart", "backoff"):
        assert len(agent[key]["oneOf"]) == 2, key


def test_repository_symlink_points_at_the_packaged_schema() -> None:
    link = ROOT / "schemas"
    assert link.is_symlink() and os.readlink(link) == "meshcompose/schemas"
    assert (link / "mesh-compose.schema.json").read_text() == schema_text()


@pytest.mark.parametrize("name", ["tests/fixtures/full.yaml", "mesh-compose.yaml"])
def test_checked_in_files_validate_against_the_schema(name: str) -> None:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not there yet")
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(yaml.safe_load(path.read_text())))
    assert [e.message for e in errors] == []
