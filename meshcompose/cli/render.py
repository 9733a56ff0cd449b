"""Rendering shared by several commands: colour, errors, warnings, the
outcome of waiting for agents, and the Python environments report.

rich is imported only where it draws (the install progress), so `ps`,
`logs` and a normal `up` do not pay for it; plain lines get their colour
from `Style`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

from meshcompose.errors import MeshComposeError
from meshcompose.safetext import terminal_safe
from meshcompose.units import plural

if TYPE_CHECKING:
    from rich.console import Console

    from meshcompose.app.environments import Environment
    from meshcompose.app.options import Progress
    from meshcompose.app.waiting import WaitOutcome
    from meshcompose.errors import ExternallyManagedError

MARKS = {True: "✔", False: "✘", None: "…"}


def color_enabled(stream: TextIO, no_color: bool = False) -> bool:
    """NO_COLOR and --no-color win; FORCE_COLOR forces; else only on a terminal."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def print_error(error: MeshComposeError, *, no_color: bool = False, stream: TextIO | None = None) -> None:
    """The message and hint, on `stream` (standard error when None); whatever
    of the user's input they quote (a key, a name, a value) reaches the
    terminal as visible text."""
    stream = stream or sys.stderr
    style = Style(color_enabled(stream, no_color))
    stream.write(f"{style.alarm('error:')} {_plain(error.message)}\n")
    if error.hint:
        stream.write(f"{style.dim('hint:')} {_plain(error.hint)}\n")
    stream.flush()


def _plain(text: str) -> str:
    return terminal_safe(text, color=False, newlines=True)


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {_plain(message)}\n")


def print_warnings(warnings: Iterable[str]) -> None:
    for warning in warnings:
        warn(warning)


def print_marked(rows: Sequence[tuple]) -> None:
    """` ✔ name  text` lines, names aligned; rows are (mark, name, text)."""
    width = max((len(name) for _, name, _ in rows), default=0)
    for mark, name, text in rows:
        print(f" {mark} {name.ljust(width)}  {text}")


def print_outcome(outcome: WaitOutcome) -> int:
    """How waiting for agents ended; the exit code (1 unless every one is up)."""
    if outcome.supervisor_exit is not None:
        print(f"the detached supervisor exited with code {outcome.supervisor_exit}:\n"
              f"{_plain(outcome.supervisor_log)}", file=sys.stderr)
        return 1
    rows = []
    for agent in outcome.agents:
        detail = f"  {agent.message}" if agent.message and agent.reached is not True else ""
        if agent.reached is None:
            detail += "  (not up in time; see `mesh-compose logs`)"
        rows.append((MARKS[agent.reached], _plain(agent.name), _plain(f"{agent.status}{detail}")))
    print_marked(rows)
    return 0 if outcome.ok else 1


def rich_console(stream: TextIO, no_color: bool = False, **options: object) -> Console:
    """A rich Console that, without colour, writes no escape code at all:
    rich's own `no_color` still emits bold and dim."""
    from rich.console import Console

    color = color_enabled(stream, no_color)
    if not color:
        return Console(file=stream, color_system=None, force_terminal=False, **options)  # type: ignore[arg-type]
    return Console(file=stream, force_terminal=True, **options)  # type: ignore[arg-type]


class EnvironmentConsole:
    """The app's EnvironmentReport on a terminal (or any stream): a line per
    interpreter, messages, a progress line per package being installed, and
    the installer's own progress lines as it writes them."""

    def __init__(self, stream: TextIO, no_color: bool = False) -> None:
        self.stream, self.no_color = stream, no_color
        self.style = Style(color_enabled(stream, no_color))
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """rich, for the install progress only: a normal `up` prints plain
        lines and never pays for importing it."""
        if self._console is None:
            self._console = rich_console(self.stream, self.no_color, highlight=False, soft_wrap=True)
        return self._console

    def summary(self, environments: Sequence[Environment]) -> None:
        self.stream.write("".join(summary_line(env, self.style) + "\n" for env in environments))
        self.stream.flush()

    def message(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def refused(self, error: ExternallyManagedError) -> None:
        from rich.markup import escape

        self.console.print(f"{escape(error.message)}\n[dim]{escape(error.hint or '')}[/]")

    @contextlib.contextmanager
    def installing(self, executable: str, requirements: Sequence[str]) -> Iterator[Progress]:
        from rich.markup import escape
        from rich.progress import Progress as Bar
        from rich.progress import SpinnerColumn, TextColumn

        from meshcompose.errors import InstallError

        marks = {"installing": "installing", "installed": "[green]✓ installed[/]", "failed": "[red]✗ failed[/]"}
        with Bar(SpinnerColumn(), TextColumn("{task.description}"), console=self.console) as bar:
            tasks = {req: bar.add_task(escape(req), total=1) for req in requirements}

            def progress(subject: str, status: str) -> None:
                if status == "step":  # the installer's own line, above the bar, as it comes
                    bar.console.print(f"[dim]  {escape(subject)}[/]")
                    return
                bar.update(tasks[subject], description=f"{escape(subject)}  {marks.get(status, status)}",
                           completed=0 if status == "installing" else 1)

            try:
                yield progress
            except InstallError as error:
                bar.stop()
                if error.output.strip():
                    self.console.print(escape(error.output.rstrip()), style="dim")
                raise


def summary_line(env: Environment, style: Style) -> str:
    """One line: interpreter, version, kind, rule, agents, and what is missing."""
    count = len(env.agents)
    agents = f"{plural(count, 'agent')} ({', '.join(env.agents)})"
    state = style.red(f"missing: {', '.join(env.missing)}") if env.missing else style.green("ok")
    return (f"{style.bold(f'python {env.version_text}')} {env.kind} {env.executable} "
            f"{style.dim(f'(via {env.source})')} — {agents} — {state}")


class Style:
    """SGR codes around text where colour is on (see `color_enabled`), nothing where it is off."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def alarm(self, text: str) -> str:
        return self._wrap("31;1", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)
