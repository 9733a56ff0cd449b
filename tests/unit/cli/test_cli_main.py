from __future__ import annotations

from meshcompose.cli import main
from meshcompose.cli.main import chosen_command, command_index


def test_the_command_is_found_past_project_options_and_their_values():
    assert chosen_command(["-p", "up", "ps", "-a"]) == "ps"
    assert chosen_command(["-f", "a.yaml", "--profile", "x", "up", "-d"]) == "up"
    assert command_index(["--no-color", "-f", "a.yaml", "up", "api"]) == 3
    assert chosen_command(["--version"]) is None
    assert chosen_command(["frobnicate"]) is None


def _commands_listed(parser) -> set[str]:
    sub = next(action for action in parser._actions if action.dest == "command")
    return set(sub.choices)


def test_a_named_command_builds_only_its_own_parser_and_help_still_lists_all(capsys):
    assert _commands_listed(main.build_parser("ps", listing=False)) == {"ps"}
    assert _commands_listed(main.build_parser(None)) == {name for name, _, _ in main.COMMANDS}
    for argv in (["--help", "ps"], ["-h"]):
        try:
            main.main(argv)
        except SystemExit:
            pass
        listed = capsys.readouterr().out
        assert all(name in listed for name, _, _ in main.COMMANDS)
