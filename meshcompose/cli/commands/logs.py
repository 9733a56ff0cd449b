"""`mesh-compose logs [NAME...] [-f] [-n N] [-t] [--no-color] [--no-log-prefix]`.

Needs only the project directory, so it is fast and works when the project
file no longer validates (see `meshcompose.app.logs`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.logs import Record
    from meshcompose.cli.console import ConsoleMux


def _line_count(value: str) -> int | None:
    if value == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of lines: {value!r} (use a number or 'all')") from None
    if count < 0:
        raise argparse.ArgumentTypeError("the number of lines must not be negative")
    return count


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    from meshcompose.cli.options import release_option

    release_option(parser, "-f")
    parser.add_argument("names", nargs="*", metavar="NAME", help="agents to show (default: all)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl+C")
    parser.add_argument("-n", "--tail", type=_line_count, default=None, metavar="N",
                        help="only the last N lines of each agent (default: all)")
    parser.add_argument("-t", "--timestamps", action="store_true", help="show each line's timestamp (UTC)")
    parser.add_argument("--no-log-prefix", action="store_true", help="do not print the `NAME |` prefix")
    parser.add_argument("--since", type=_time_point, metavar="TIME",
                        help="only lines since TIME: a timestamp (2026-11-25T12:00:00Z) or a duration ago (10m, 1h30m)")
    parser.add_argument("--until", type=_time_point, metavar="TIME",
                        help="only lines before TIME (same forms as --since)")


def _time_point(value: str) -> str:
    from meshcompose.app.logs import parse_time_point
    from meshcompose.units import abridged

    try:
        return parse_time_point(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    except (OverflowError, OSError):  # a time the platform cannot represent
        raise argparse.ArgumentTypeError(f"not a time: {abridged(value)} (out of range)") from None


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import logs as app_logs
    from meshcompose.cli.options import project_identity

    sink = MuxSink(args)
    try:
        result = app_logs.logs(project_identity(args),
                               app_logs.LogsOptions(names=tuple(args.names), follow=args.follow, tail=args.tail,
                                                    since=args.since, until=args.until), sink)
    except KeyboardInterrupt:
        return 0  # Ctrl+C is how `logs -f` ends
    finally:
        sink.flush()
    if not result.agents and not args.follow:
        print(f"no logs yet in {result.log_dir} (the project has not run here)", file=sys.stderr)
    return 0


def _run_rule(record: Record) -> str:
    """`──── run started 2026-11-25 12:00:00 (pid 42) ────` from a separator record."""
    when = record.when[:19].replace("T", " ")
    detail = record.text.removeprefix("started").strip()
    return f"──── run started {when}{' ' + detail if detail else ''} ────"


class MuxSink:
    """The app's LogSink: records through the console multiplexer."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mux: ConsoleMux | None = None

    def begin(self, agents: Sequence[str]) -> None:
        from meshcompose.cli.console import ConsoleMux
        from meshcompose.cli.render import color_enabled

        self.mux = ConsoleMux(sys.stdout, agents, color=color_enabled(sys.stdout, self.args.no_color),
                              prefix=not self.args.no_log_prefix, timestamps=self.args.timestamps)

    def show(self, records: Sequence[Record]) -> bool:
        from meshcompose.app.logs import RUN_STREAM, WATCH_STREAM

        assert self.mux is not None, "begin() comes first"
        for record in records:
            if record.stream == RUN_STREAM:
                self.mux.line(record.agent, _run_rule(record), "out", when=record.when)
            elif record.stream == WATCH_STREAM:  # watch mode's reloads and rejected edits, as `up --watch` shows them
                self.mux.event(record.agent, record.text, marker="⟳")
            else:
                self.mux.line(record.agent, record.text, record.stream, when=record.when)
        self.mux.flush()
        return not self.mux.broken

    def waiting(self, log_dir: Path) -> None:
        print(f"waiting for logs in {log_dir} (Ctrl+C to stop)", file=sys.stderr)

    def flush(self) -> None:
        if self.mux is not None:
            self.mux.flush()
