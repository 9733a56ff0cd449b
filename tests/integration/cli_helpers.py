"""Helpers for driving the real `mesh-compose` CLI against projects in tmp_path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

# A second user is `nobody`, which only root can become (chown, setpriv).
root_only = pytest.mark.skipif(getattr(os, "geteuid", lambda: -1)() != 0,
                               reason="a second user needs root (chown, setpriv)")


def sleeper(greeting: str) -> str:
    """An agent that prints `greeting`, then sleeps until SIGTERM ends it with 0."""
    return ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
            f"print({greeting!r}, flush=True)\n"
            "time.sleep(3600)\n")


class ProjectDir:
    """A project written into a temporary directory, run with the real CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: list[subprocess.Popen] = []

    def script(self, name: str, body: str) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
        return name

    def compose(self, agents: dict, **top) -> Path:
        doc = {"name": top.pop("name", "t"), "python": {"interpreter": sys.executable}, **top, "agents": agents}
        path = self.root / "mesh-compose.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def cli(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "meshcompose", *args], cwd=self.root, capture_output=True,
            text=True, timeout=timeout, input=input, env=_env(),
        )

    def start(self, *args: str) -> Running:
        out = open(self.root / f"up-{len(self.runs)}.out", "w+b")
        proc = subprocess.Popen(
            [sys.executable, "-m", "meshcompose", *args], cwd=self.root,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env(),
        )
        self.runs.append(proc)
        return Running(proc, Path(out.name))

    def read(self, name: str) -> str:
        path = self.root / name
        return path.read_text() if path.exists() else ""

    def cleanup(self) -> None:
        for proc in self.runs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class Running:
    def __init__(self, proc: subprocess.Popen, output: Path) -> None:
        self.proc, self.output_path = proc, output

    @property
    def output(self) -> str:
        return self.output_path.read_bytes().decode("utf-8", "replace")

    def wait_for(self, predicate: Callable[[str], bool] | str, timeout: float = 30) -> str:
        check = (lambda text: predicate in text) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output
            if check(text):
                return text
            if self.proc.poll() is not None:
                text = self.output
                if check(text):
                    return text
                raise AssertionError(f"mesh-compose exited ({self.proc.returncode}) first:\n{text}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting; output so far:\n{self.output}")

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)


def _env() -> dict:
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """The command succeeded, and said nothing of a traceback."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def wait_until(predicate: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def no_traceback(result: subprocess.CompletedProcess) -> str:
    """The command's whole output, which must not hold a traceback."""
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    return text


def as_nobody(*args: str, cwd: Path | str, **env: str) -> subprocess.CompletedProcess:
    """`mesh-compose ARGS` run as the user `nobody` (uid and gid 65534), without a home."""
    import shutil

    runner = shutil.which("setpriv")
    if runner is None:
        pytest.skip("setpriv is not installed")
    return subprocess.run([runner, "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "meshcompose", *args],
                          cwd=cwd, env={**_env(), "HOME": "/nonexistent", "XDG_RUNTIME_DIR": "", **env},
                          capture_output=True, text=True, timeout=60)
