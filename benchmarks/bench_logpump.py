"""Log pump throughput: lines/s from agent pipes to the console and log files.

Several producer processes each write LINES lines as fast as they can; one
anyio task group pumps all of them (`meshcompose.logs.logpump.pump`) into a
`ConsoleMux` writing coloured output to /dev/null and a `LogFile` per agent,
the same path `mesh-compose up` uses. Also reports the in-process cost of the
sinks alone (no pipes), which bounds what the pump can reach.

    python benchmarks/bench_logpump.py [--producers 4] [--lines 200000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio

from meshcompose.cli.console import ConsoleMux
from meshcompose.logs.logfiles import LogFile
from meshcompose.logs.logpump import pump

PRODUCER = """
import sys
count = int(sys.argv[1])
line = b"2024-05-01 12:00:00,000 INFO mesh.agent: handled request id=%08d in 1.2ms\\n"
write = sys.stdout.buffer.write
batch = 1000
for start in range(0, count, batch):
    write(b"".join(line % i for i in range(start, min(start + batch, count))))
"""


def make_sinks(names: list[str], log_dir: Path, devnull):
    console = ConsoleMux(devnull, names, color=True)
    files = {name: LogFile(log_dir / f"{name}.log") for name in names}
    return console, files


async def run_pipes(producers: int, lines: int, log_dir: Path) -> dict[str, float]:
    names = [f"agent-{i}" for i in range(producers)]
    with open(os.devnull, "w") as devnull:
        console, files = make_sinks(names, log_dir, devnull)
        received = 0

        async def one(name: str) -> None:
            log_file = files[name]

            def on_lines(texts) -> None:
                nonlocal received
                received += len(texts)
                console.lines(name, texts)
                log_file.write_lines("out", texts)

            async with await anyio.open_process([sys.executable, "-c", PRODUCER, str(lines)]) as process:
                await pump(process.stdout, on_lines)
                await process.wait()

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(one, name)
        console.flush()
        for log_file in files.values():
            log_file.close()
        elapsed = time.perf_counter() - started
    assert received == producers * lines, (received, producers * lines)
    return {"lines": received, "seconds": elapsed, "lines_per_second": received / elapsed}


def run_sinks_only(producers: int, lines: int, log_dir: Path) -> dict[str, float]:
    names = [f"agent-{i}" for i in range(producers)]
    text = "2024-05-01 12:00:00,000 INFO mesh.agent: handled request id=00000042 in 1.2ms"
    with open(os.devnull, "w") as devnull:
        console, files = make_sinks(names, log_dir, devnull)
        started = time.perf_counter()
        for _ in range(lines):
            for name in names:
                console.line(name, text)
                files[name].write("out", text)
        console.flush()
        for log_file in files.values():
            log_file.close()
        elapsed = time.perf_counter() - started
    total = producers * lines
    return {"lines": total, "seconds": elapsed, "lines_per_second": total / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--lines", type=int, default=200_000, help="lines per producer")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pipes = anyio.run(run_pipes, args.producers, args.lines, Path(tmp) / "pipes")
        sinks = run_sinks_only(args.producers, args.lines, Path(tmp) / "sinks")
    result = {"producers": args.producers, "pipes": pipes, "sinks_only": sinks}
    if args.json:
        print(json.dumps(result))
        return
    print(f"pump -> console -> files, {args.producers} producers: "
          f"{pipes['lines_per_second']:,.0f} lines/s ({pipes['lines']:,} lines in {pipes['seconds']:.2f} s)")
    print(f"sinks only (no pipes):                   {sinks['lines_per_second']:,.0f} lines/s")


if __name__ == "__main__":
    main()
