"""Helpers for the `mesh` tier, importable from its tests (conftest holds the fixtures)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path
from typing import Callable

import psutil

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "mcp-mesh"
INSTALL_COMMAND = "bash scripts/install-mesh.sh"
PROJECT = "mcp-mesh"  # the example's project name, so agent ids match `up`'s
HELLO_ID = f"{PROJECT}-hello"  # registry.agent_id(PROJECT, "hello")
GREETER_ID = f"{PROJECT}-greeter"
# The SDKs scripts/install-mesh.sh installs, each in its own venv: the pinned one and the newest.
SDK_VENVS = {"3.7.1": "venv", "3.8.0": "venv-3.8.0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def call_tool(endpoint: str, tool: str, arguments: dict[str, object], timeout: float = 10) -> str:
    """Call an MCP tool over the agent's streamable-HTTP endpoint; the text result."""
    payload = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/mcp", data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read().decode()
    data = [line[5:] for line in body.splitlines() if line.startswith("data:")] or [body]
    return json.loads(data[-1])["result"]["content"][0]["text"]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False




def listening_addresses(pid: int) -> set:
    connections = psutil.Process(pid).net_connections(kind="inet")
    return {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}


def raw_agents(url: str) -> dict:
    with urllib.request.urlopen(url + "/agents", timeout=5) as response:
        return {agent["id"]: agent for agent in json.load(response)["agents"] or []}


def recorded(project: Path, name: str = PROJECT) -> dict:
    return json.loads((project / ".mesh-compose" / name / "state.json").read_text())


def ps_rows(cli, *flags: str) -> dict:
    result = cli("ps", "--format", "json", *flags)
    assert result.returncode == 0, result.stderr
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}
