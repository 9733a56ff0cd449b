"""Rendering shared by several commands: colour, errors, warnings, the
outcome of waiting for agents, and the Python environments report.

rich is imported only where it draws (the environments report), so `ps`
and `logs` do not pay for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

from meshcompose.errors import MeshComposeError
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


def print_error(error: MeshComposeError, *, no_color: bool = False, stream: TextIO = sys.stderr) -> None:
    color = color_enabled(stream, no_color)
    red, dim, reset = ("\x1b[31;1m", "\x1b[2m", "\x1b[0m") if color else ("", "", "")
    stream.write(f"{red}error:{reset} {error.message}\n")
    if error.hint:
        stream.write(f"{dim}hint:{reset} {error.hint}\n")
    stream.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


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
        print(f"the detached supervisor exited with code {outcome.supervisor_exit}:\n{outcome.supervisor_log}",
              file=sys.stderr)
        return 1
    rows = []
    for agent in outcome.agents:
        detail = f"  {agent.message}" if agent.message and agent.reached is not True else ""
        if agent.reached is None:
            detail += "  (not up in time; see `mesh-compose logs`)"
        rows.append((MARKS[agent.reached], agent.name, f"{agent.status}{detail}"))
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
        self.console = rich_console(stream, no_color, highlight=False, soft_wrap=True)

    def summary(self, environments: Sequence[Environment]) -> None:
        for env in environments:
            self.console.print(summary_line(env))

    def message(self, text: str) -> None:
        from rich.markup import escape

        self.console.print(escape(text))

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


def summary_line(env: Environment) -> str:
    """One line of rich markup: interpreter, version, kind, rule, agents, and what is missing."""
    from rich.markup import escape

    count = len(env.agents)
    agents = escape(f"{plural(count, 'agent')} ({', '.join(env.agents)})")
    state = f"[red]missing: {escape(', '.join(env.missing))}[/]" if env.missing else "[green]ok[/]"
    return (f"[bold]python {env.version_text}[/] {env.kind} {escape(env.executable)} "
            f"[dim]{escape(f'(via {env.source})')}[/] — {agents} — {state}")
