"""`terminal_safe`, the one rule for text from agents and users on a terminal,
and the places that show such text: the console multiplexer and errors."""

from __future__ import annotations

import io

import pytest

from meshcompose.cli.console import ConsoleMux
from meshcompose.cli.render import print_error
from meshcompose.errors import ConfigError
from meshcompose.safetext import terminal_safe


@pytest.mark.parametrize(("text", "colour", "plain"), [
    ("plain text", "plain text", "plain text"),
    ("\x1b[31mred\x1b[0m \x1b[38;5;208mo\x1b[38:2:1:2:3mx\x1b[m", "\x1b[31mred\x1b[0m \x1b[38;5;208mo\x1b[38:2:1:2:3mx\x1b[m",
     "red ox"),
    ("\x1b]0;title\x07", "^[]0;title^G", "^[]0;title^G"),
    ("\x1b]2;title\x1b\\", "^[]2;title^[\\", "^[]2;title^[\\"),
    ("\x1b]52;c;aGk=\x07", "^[]52;c;aGk=^G", "^[]52;c;aGk=^G"),
    ("\x1bc\x1b[2J\x1b[?1049h", "^[c^[[2J^[[?1049h", "^[c^[[2J^[[?1049h"),
    ("\x1b[31", "^[[31", "^[[31"),  # an unfinished SGR is not one
    ("a\x00b\x07c\x7fd\re\bf", "a^@b^Gc^?d^Me^Hf", "a^@b^Gc^?d^Me^Hf"),
    ("\x9b31m\x85\x80", "<9b>31m<85><80>", "<9b>31m<85><80>"),  # C1, the 8-bit CSI among them
    ("tab\tkept", "tab\tkept", "tab\tkept"),
    ("two\nlines", "two^Jlines", "two^Jlines"),
    ("\ufffd é ⇒ 日本", "\ufffd é ⇒ 日本", "\ufffd é ⇒ 日本"),
])
def test_every_control_but_colour_becomes_visible(text: str, colour: str, plain: str) -> None:
    assert terminal_safe(text, color=True) == colour
    assert terminal_safe(text, color=False) == plain


def test_newlines_stay_where_asked_and_plain_text_is_returned_as_is() -> None:
    assert terminal_safe("a\nb\x1bc", color=False, newlines=True) == "a\nb^[c"
    text = "nothing to change " * 100
    assert terminal_safe(text, color=False) is text


def test_the_console_shows_agent_lines_and_names_as_text() -> None:
    out = io.StringIO()
    mux = ConsoleMux(out, ["a\x1b]0;x\x07"], color=False)
    mux.lines("a\x1b]0;x\x07", ["\x1b[31mred\x1b[0m", "\x1bc", "fine"])
    mux.line("a\x1b]0;x\x07", "\x1b]52;c;aGk=\x07")
    mux.event("a\x1b]0;x\x07", "unhealthy: \x1b[2J")
    mux.flush()
    assert out.getvalue() == ("a^[]0;x^G | red\na^[]0;x^G | ^[c\na^[]0;x^G | fine\n"
                              "a^[]0;x^G | ^[]52;c;aGk=^G\na^[]0;x^G ⇒ unhealthy: ^[[2J\n")


def test_errors_print_the_users_input_as_text() -> None:
    stream = io.StringIO()
    print_error(ConfigError("agents.\x1b]0;x\x07: bad\nsecond \x9b2J", hint="rename \x1bc"), stream=stream)
    assert stream.getvalue() == "error: agents.^[]0;x^G: bad\nsecond <9b>2J\nhint: rename ^[c\n"
