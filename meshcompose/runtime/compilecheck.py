"""Does the changed code compile? Asked of the agent's own interpreter.

Syntax differs between Python versions, so watch mode never compiles with
its own Python. Starting an interpreter costs 50-100 ms (more on a loaded
machine), which would be most of a reload, so each interpreter gets one
long-lived checker (`-I -S`: no site, no environment) that reads a JSON list
of files per line and answers a JSON list of errors. It blocks on its stdin
while nothing changes (no CPU), and exits when the supervisor closes it or
dies (end of input). It runs in a session of its own, out of the terminal's
foreground process group, so Ctrl+C does not interrupt it mid-line. `compile()` writes no bytecode, unlike py_compile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import anyio
import anyio.abc

# One request per line; each answer is `path:line:column: SyntaxError: message` per bad file.
_SERVER = """\
import json, sys
for line in sys.stdin:
    errors = []
    for name in json.loads(line):
        try:
            with open(name, 'rb') as f:
                compile(f.read(), name, 'exec', dont_inherit=True)
        except SyntaxError as e:
            errors.append('%s:%s:%s: %s: %s' % (e.filename, e.lineno, e.offset or 0, type(e).__name__, e.msg))
        except (OSError, ValueError):
            pass
    sys.stdout.write(json.dumps(errors) + '\\n')
    sys.stdout.flush()
"""


class _Checker:
    """One interpreter's checker process."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.pending = b""

    async def check(self, files: Sequence[Path]) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        await self.process.stdin.send((json.dumps([str(path) for path in files]) + "\n").encode())
        while b"\n" not in self.pending:
            self.pending += await self.process.stdout.receive()
        line, self.pending = self.pending.split(b"\n", 1)
        return [str(error) for error in json.loads(line)]


class CompileChecks:
    """The checkers of every interpreter asked so far; `aclose` ends them."""

    def __init__(self) -> None:
        self._checkers: dict[str, _Checker] = {}
        self._lock = anyio.Lock()

    async def errors(self, interpreter: str, files: Sequence[Path]) -> list[str]:
        """The syntax errors in `files` as `interpreter` compiles them ([] if none)."""
        if not files:
            return []
        async with self._lock:  # one request at a time per pipe
            for attempt in range(2):  # a checker that died is replaced once
                try:
                    checker = await self._checker(interpreter)
                    return await checker.check(files)
                except (OSError, ValueError, anyio.EndOfStream, anyio.BrokenResourceError) as error:
                    await self._drop(interpreter)
                    if attempt:
                        return [f"cannot check with {interpreter}: {error or type(error).__name__}"]
        return []

    async def warm(self, interpreters: Sequence[str]) -> None:
        """Starts the checkers now, so the first reload does not wait for one."""
        async with self._lock:
            for interpreter in dict.fromkeys(interpreters):
                try:
                    await self._checker(interpreter)
                except OSError:
                    pass  # said when a check needs it

    async def _checker(self, interpreter: str) -> _Checker:
        if interpreter not in self._checkers:
            # A session of its own: the terminal's Ctrl+C goes to its foreground
            # process group, and is the supervisor's to handle, not the checker's.
            process = await anyio.open_process([interpreter, "-I", "-S", "-u", "-c", _SERVER], stderr=None,
                                               start_new_session=True)
            self._checkers[interpreter] = _Checker(process)
        return self._checkers[interpreter]

    async def _drop(self, interpreter: str) -> None:
        checker = self._checkers.pop(interpreter, None)
        if checker is not None:
            with anyio.CancelScope(shield=True):
                if checker.process.returncode is None:
                    checker.process.kill()
                await checker.process.aclose()

    async def aclose(self) -> None:
        for interpreter in list(self._checkers):
            await self._drop(interpreter)


async def syntax_errors(interpreter: str, files: Sequence[Path]) -> list[str]:
    """One check with a checker of its own (for callers that check once)."""
    checks = CompileChecks()
    try:
        return await checks.errors(interpreter, files)
    finally:
        await checks.aclose()
