"""Running a scenario inside a private network namespace (`unshare -rn`).

Tests may use only loopback addresses on the host, but an agent that listens
on 0.0.0.0 is what the listening check must catch. In a new user
and network namespace only `lo` exists, isolated from every other interface,
so binding 0.0.0.0 there exposes nothing. The supervisor reads the socket
tables of its own namespace (/proc/net/*), so the whole scenario runs inside:
the test writes a Python driver, `run_scenario` runs it in the namespace, and
the driver prints one JSON object (what it saw) as its last line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

# Brings `lo` up (the registry and SDK agents talk over 127.0.0.1), then runs the driver.
_ENTER = 'ip link set lo up 2>/dev/null || true; exec "$@"'

# Helpers every driver gets: run the CLI, wait for something, read events.
PRELUDE = '''
import json, os, signal, subprocess, sys, time
from pathlib import Path

def cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "meshcompose", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)

def start_up(*args):
    """A foreground `up`, its merged stream in up.out."""
    out = open("up.out", "w")
    return subprocess.Popen([sys.executable, "-m", "meshcompose", "up", *args], stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}; up.out:\\n" + stream())

def stream():
    return Path("up.out").read_text() if Path("up.out").exists() else ""

def events(project):
    path = Path(".mesh-compose", project, "events.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

def ps_rows():
    result = cli("ps", "--format", "json")
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}

def stop(up):
    up.send_signal(signal.SIGINT)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        up.send_signal(signal.SIGINT)  # the second one forces
        up.wait(30)
'''


def unavailable_reason() -> str | None:
    """Why no private network namespace can be had here, or None."""
    if shutil.which("unshare") is None:
        return "no `unshare` command"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"`unshare -rn` fails here: {probe.stderr.strip() or probe.returncode}"
    return None


def run_scenario(driver: str, *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240) -> dict:
    """Runs the Python source `driver` (PRELUDE prepended) in `cwd` inside a
    fresh user + network namespace; the JSON object it printed last."""
    script = cwd / "netns_driver.py"
    script.write_text(PRELUDE + textwrap.dedent(driver))
    environment = {**(env or os.environ), "NO_COLOR": "1"}
    environment.pop("FORCE_COLOR", None)
    result = subprocess.run(["unshare", "-rn", "sh", "-c", _ENTER, "sh", sys.executable, str(script)],
                            cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise AssertionError(f"the scenario failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return json.loads(lines[-1])
