"""`up -d`'s default --wait-timeout follows the plan's depth: a serialized chain
of SDK agents needs longer than a few agents side by side."""

from __future__ import annotations

from pathlib import Path

from meshcompose.app.up import wait_timeout_for
from meshcompose.config import loader


def chain(tmp_path: Path, length: int):
    lines = ["agents:"]
    for index in range(length):
        needs = f", depends_on: [a{index - 1}]" if index else ""
        lines.append(f"  a{index}: {{command: [sh, -c, 'sleep 1']{needs}}}")
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return loader.load_project([path], environ={})


def test_the_default_grows_with_the_start_waves_and_a_given_value_stands(tmp_path: Path):
    eight = chain(tmp_path, 8)
    assert wait_timeout_for(eight, list(eight.agents), None) == 160.0
    assert wait_timeout_for(eight, ["a0", "a1"], None) == 60.0  # at least the old default
    assert wait_timeout_for(eight, list(eight.agents), 5.0) == 5.0
