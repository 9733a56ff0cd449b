"""The install prompt: packages are missing, ask i/v/c/q on the terminal.

The application asks through `InstallOptions.decide` with a
`MissingPackages` question; this turns it into the prompt, reads the answer
(Enter means the default, anything unknown asks again), and returns the
`Decision`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Callable, TextIO

from meshcompose.app.options import Decision, MissingPackages

Ask = Callable[[str], str]  # shows a prompt, returns the line typed


def terminal_ask(stream: TextIO) -> Ask:
    """Prompts on `stream`, reads stdin; end of input means quit (nobody is there to agree)."""

    def ask(prompt: str) -> str:
        stream.write(prompt)
        stream.flush()
        line = sys.stdin.readline()
        return line.strip().lower() if line else Decision.QUIT.value

    return ask


def decider(ask: Ask, out: TextIO) -> Callable[[MissingPackages], Decision]:
    """`InstallOptions.decide` for a terminal."""
    return lambda question: ask_choice(question, ask, out)


def ask_choice(question: MissingPackages, ask: Ask, out: TextIO) -> Decision:
    """One of the offered decisions; Enter means the first; anything else asks again."""
    keys = [choice.value for choice in question.choices]
    prompt = prompt_text(question)
    while True:
        answer = ask(prompt).strip().lower() or keys[0]
        if answer[:1] in keys:
            return Decision(answer[:1])
        out.write(f"please answer {', '.join(keys)}\n")
        prompt = f"Choice [{'/'.join(keys)}]: "


def prompt_text(question: MissingPackages) -> str:
    env = question.environment
    where = "this virtual environment" if env.is_venv else "the system Python (for every user of it)"
    options = {
        Decision.INSTALL: f"install them into {where}",
        Decision.VENV: f"create {question.project_dir / '.venv'} with Python {env.version_text} and install there",
        Decision.CONTINUE: "continue without them (the agents may fail to start"
                           + (" or reach the registry)" if question.in_mesh else ")"),
        Decision.QUIT: "quit",
    }
    keys = list(question.choices)
    lines = [
        "",
        f"{_agents_phrase(env.affected_agents)} packages missing from {env.executable}",
        f"  ({env.kind} Python {env.version_text}, found via {env.source})",
        f"  missing: {', '.join(env.missing)}",
    ]
    lines += [f"  {key.value}  {options[key]}" + (" (default)" if key is keys[0] else "") for key in keys]
    return "\n".join(lines) + f"\nChoice [{'/'.join(key.value for key in keys)}]: "


def _agents_phrase(agents: Sequence[str]) -> str:
    return f"Agent {agents[0]} needs" if len(agents) == 1 else f"Agents {', '.join(agents)} need"
