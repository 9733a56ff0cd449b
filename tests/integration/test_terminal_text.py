"""Agent output is text: what a real terminal receives from the foreground
`up` and from `logs` when an agent prints every kind of control sequence,
what the log file keeps, and error messages quoting a name or value that
holds an ESC."""

from __future__ import annotations

import os
import re
import sys

import pytest
from terminal import output_on_pty

from cli_helpers import ProjectDir, _env

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(os.name != "posix", reason="a pty")]

# One line per kind of sequence, each framed by words so that what replaced it shows.
AGENT = r'''
import sys
out = sys.stdout.buffer
for line in [
    b"colour \x1b[31mred\x1b[0m end",
    b"title \x1b]0;owned\x07 end",
    b"title2 \x1b]2;owned\x1b\\ end",
    b"clip \x1b]52;c;aGVsbG8=\x07 end",
    b"clear \x1b[2J\x1b[H end",
    b"reset \x1bc end",
    b"alt \x1b[?1049h end",
    b"nul \x00 bel \x07 del \x7f cr \r end",
    b"c1 \xc2\x9b31m utf8 end",
    b"raw \x9b31m byte end",
    b"tab\tend",
]:
    out.write(line + b"\n")
out.flush()
'''

SGR = re.compile(r"\x1b\[[0-9;:]*m")
# As the terminal shows them (colour on: the agent's own SGR stays).
SHOWN = [
    "colour \x1b[31mred\x1b[0m end",
    "title ^[]0;owned^G end",
    "title2 ^[]2;owned^[\\ end",
    "clip ^[]52;c;aGVsbG8=^G end",
    "clear ^[[2J^[[H end",
    "reset ^[c end",
    "alt ^[[?1049h end",
    "nul ^@ bel ^G del ^? cr ^M end",
    "c1 <9b>31m utf8 end",
    "raw \ufffd31m byte end",
    "tab\tend",
]
# As the agent wrote them, in its log file (an invalid UTF-8 byte was decoded as U+FFFD).
KEPT = [b"\x1b]0;owned\x07", b"\x1b]2;owned\x1b\\", b"\x1b]52;c;aGVsbG8=\x07", b"\x1b[2J\x1b[H", b"\x1bc",
        b"\x1b[?1049h", b"nul \x00 bel \x07 del \x7f cr \r end", b"c1 \xc2\x9b31m"]


def terminal_env() -> dict:
    env = _env()
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    return env


def assert_harmless(received: bytes) -> str:
    """Only SGR escapes and no other control character (but tab, CR-LF) reached the terminal."""
    text = received.decode("utf-8", "replace").replace("\r\n", "\n")
    without_sgr = SGR.sub("", text)
    controls = sorted({char for char in without_sgr if (ord(char) < 0x20 and char not in "\t\n")
                       or 0x7F <= ord(char) < 0xA0})
    assert controls == [], (controls, text)
    return text


@pytest.fixture
def noisy(project: ProjectDir) -> ProjectDir:
    project.script("noisy.py", AGENT)
    project.compose({"noisy": {"script": "noisy.py"}})
    return project


def test_the_foreground_up_console_shows_control_sequences_as_text(noisy: ProjectDir) -> None:
    code, received = output_on_pty([sys.executable, "-m", "meshcompose", "up"], cwd=noisy.root,
                                   env=terminal_env())
    text = assert_harmless(received)
    assert code == 0, text
    for shown in SHOWN:
        assert shown in text, (shown, text)

    log = next((noisy.root / ".mesh-compose").rglob("noisy*.log")).read_bytes()
    for kept in KEPT:
        assert kept in log, (kept, log)


def test_logs_on_a_terminal_shows_control_sequences_as_text(noisy: ProjectDir) -> None:
    result = noisy.cli("up")
    assert result.returncode == 0, result.stdout + result.stderr

    code, received = output_on_pty([sys.executable, "-m", "meshcompose", "logs"], cwd=noisy.root,
                                   env=terminal_env())
    text = assert_harmless(received)
    assert code == 0, text
    for shown in SHOWN:
        assert shown in text, (shown, text)

    plain = noisy.cli("logs", "--no-color")  # not a terminal, no colour: the agent's colours go too
    assert "colour red end" in plain.stdout
    assert "\x1b" not in plain.stdout
    assert "title ^[]0;owned^G end" in plain.stdout


@pytest.mark.parametrize("yaml_text", [
    'agents:\n  "a\\e]0;owned\\a\\e[2J":\n    script: a.py\n',
    'agents:\n  a:\n    script: a.py\n    restart: "\\e]52;c;aGk=\\a\\ec"\n',
    'agents:\n  a:\n    script: a.py\n    "\\e[?1049hbogus": 1\n',
], ids=["agent name", "value", "key"])
def test_an_error_quoting_the_users_input_prints_no_control_character(project: ProjectDir, yaml_text: str,
                                                                        ) -> None:
    project.script("a.py", "print('hi')\n")
    (project.root / "mesh-compose.yaml").write_text(f"name: t\n{yaml_text}")
    code, received = output_on_pty([sys.executable, "-m", "meshcompose", "config", "-q"], cwd=project.root,
                                   env=terminal_env())
    text = assert_harmless(received)
    assert code == 3, text
    assert "^[" in text or "\\x1b" in text, text  # the ESC is there, as text
    assert "Traceback" not in text


def test_top_shows_an_agents_command_line_as_text(project: ProjectDir) -> None:
    project.script("idle.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    (project.root / "mesh-compose.yaml").write_text(
        f"name: t\npython: {{interpreter: {sys.executable}}}\n"
        'agents:\n  idle:\n    script: idle.py\n    args: ["\\e]0;owned\\a\\e[2J"]\n    stop_grace_period: 1s\n')
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        top = project.cli("top")
        assert "^[]0;owned^G^[[2J" in top.stdout, top.stdout + top.stderr
        assert "\x1b" not in top.stdout and "\x07" not in top.stdout
    finally:
        project.cli("down")
