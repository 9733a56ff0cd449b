"""`mesh-compose logs [NAME...] [-f] [-n N] [-t] [--no-color] [--no-log-prefix]`.

Reads `.mesh-compose/logs/` directly, so it works during and after a run,
for detached projects, and even when the project file no longer validates:
the project directory is found by a small search for the project file, not
by loading the configuration (which would cost jsonschema and networkx).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence

from meshcompose.errors import MeshComposeError, ProjectNotFoundError

if TYPE_CHECKING:
    from meshcompose.cli.console import ConsoleMux

PROJECT_FILES = ("mesh-compose.yaml", "mesh-compose.yml")


def _line_count(value: str) -> Optional[int]:
    if value == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of lines: {value!r} (use a number or 'all')") from None
    if count < 0:
        raise argparse.ArgumentTypeError("the number of lines must not be negative")
    return count


def _release_option(parser: argparse.ArgumentParser, option: str) -> None:
    """compose's `logs -f` means follow: take `-f` from the shared project
    option `-f/--file`, which keeps working in its long form (and before the
    command: `mesh-compose -f FILE logs -f`). argparse has no public way."""
    for action in parser._actions:
        if option in action.option_strings:
            action.option_strings.remove(option)
    parser._option_string_actions.pop(option, None)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    _release_option(parser, "-f")
    parser.add_argument("names", nargs="*", metavar="NAME", help="agents to show (default: all)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl+C")
    parser.add_argument("-n", "--tail", type=_line_count, default=None, metavar="N",
                        help="only the last N lines of each agent (default: all)")
    parser.add_argument("-t", "--timestamps", action="store_true", help="show each line's timestamp (UTC)")
    parser.add_argument("--no-log-prefix", action="store_true", help="do not print the `NAME |` prefix")


def find_project_dir(files: Sequence[str], start: Path) -> Path:
    """The directory of the first -f file, else of the nearest project file."""
    if files:
        given = Path(files[0]).expanduser()
        return (given if given.is_dir() else given.parent).resolve()
    here = start.resolve()
    for directory in (here, *here.parents):
        if any((directory / name).is_file() for name in PROJECT_FILES):
            return directory
    raise ProjectNotFoundError(str(here))


def _check_names(names: Sequence[str], known: Sequence[str], follow: bool, log_dir: Path) -> None:
    for name in names:
        if "/" in name or "\\" in name or name.startswith(".") or not name:
            raise MeshComposeError(f"not an agent name: {name!r}")
        if name not in known and not follow:
            raise MeshComposeError(
                f"no logs for agent '{name}' in {log_dir}",
                hint=f"agents with logs: {', '.join(known)}" if known else "the project has not run yet",
            )


def run(args: argparse.Namespace) -> int:
    from meshcompose.cli.render import color_enabled
    from meshcompose.cli.console import ConsoleMux
    from meshcompose.logs.logfiles import agents_with_logs

    log_dir = find_project_dir(getattr(args, "files", None) or [], Path.cwd()) / ".mesh-compose" / "logs"
    known = agents_with_logs(log_dir)
    _check_names(args.names, known, args.follow, log_dir)
    agents: List[str] = list(args.names) or known
    if not agents and not args.follow:
        print(f"no logs yet in {log_dir} (the project has not run here)", file=sys.stderr)
        return 0
    mux = ConsoleMux(sys.stdout, agents, color=color_enabled(sys.stdout, args.no_color),
                     prefix=not args.no_log_prefix, timestamps=args.timestamps)
    try:
        _show(mux, log_dir, args, agents)
    except KeyboardInterrupt:
        pass  # Ctrl+C is how `logs -f` ends
    finally:
        mux.flush()
    return 0


def _show(mux: ConsoleMux, log_dir: Path, args: argparse.Namespace, agents: List[str]) -> None:
    from meshcompose.logs.logread import LogFollower, follow, merge_by_time, tail_records

    follower = LogFollower(log_dir, args.names or None) if args.follow else None
    offsets = follower.offsets() if follower else {}
    history = [tail_records(log_dir, name, args.tail, offsets.get(name)) for name in agents]
    _print(mux, merge_by_time(history))
    mux.flush()
    if follower is None:
        return
    if not agents:
        print(f"waiting for logs in {log_dir} (Ctrl+C to stop)", file=sys.stderr)
    try:
        for batch in follow(follower):
            _print(mux, batch)
            mux.flush()
            if mux.broken:
                return
    finally:
        follower.close()


def _print(mux: ConsoleMux, records) -> None:
    for record in records:
        mux.line(record.agent, record.text, record.stream, when=record.when)
