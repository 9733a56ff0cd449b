from __future__ import annotations

from meshcompose.cli.main import chosen_command, command_index


def test_the_command_is_found_past_project_options_and_their_values():
    assert chosen_command(["-p", "up", "ps", "-a"]) == "ps"
    assert chosen_command(["-f", "a.yaml", "--profile", "x", "up", "-d"]) == "up"
    assert command_index(["--no-color", "-f", "a.yaml", "up", "api"]) == 3
    assert chosen_command(["--version"]) is None
    assert chosen_command(["frobnicate"]) is None
