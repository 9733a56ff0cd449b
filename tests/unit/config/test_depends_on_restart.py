"""`depends_on.<X>.restart` (compose's): read into the model, a boolean only."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcompose.config import loader
from meshcompose.errors import ConfigError
from meshcompose.model import DependsOn


def load(tmp_path: Path, spec: str):
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("agents:\n  db: {command: [sh, -c, 'sleep 1']}\n"
                    f"  api: {{command: [sh, -c, 'sleep 1'], depends_on: {{db: {spec}}}}}\n")
    return loader.load_project([path], environ={})


def test_restart_true_is_kept_and_defaults_to_false(tmp_path: Path):
    assert load(tmp_path, "{restart: true}").agents["api"].depends_on == (DependsOn("db", restart=True),)
    assert load(tmp_path, "{condition: started}").agents["api"].depends_on == (DependsOn("db"),)


def test_restart_must_be_a_boolean(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "{restart: sometimes}")
    assert "restart" in str(caught.value.problems[0])
