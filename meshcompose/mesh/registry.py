"""Connecting agents to the MCP Mesh registry, and running it when asked.

Pure decisions (which URL, which environment, which agent id, which argv)
live here; reading the registry over HTTP lives in `registry_client` and is
re-exported, so callers need only `from meshcompose import registry`.

Behaviour of the real stack this relies on (mcp-mesh-registry 3.7.1,
mcp-mesh SDK 3.7.1):

- The registry listens on `--host`/`--port` (or HOST/PORT; `--port 0` means
  its default 8000, so a free port must be chosen by us) and keeps its SQLite
  database at DATABASE_URL (a file path). It exits 0 on SIGTERM.
- SDK agents read MCP_MESH_REGISTRY_URL, bind HOST (default 0.0.0.0),
  announce MCP_MESH_HTTP_HOST, listen on MCP_MESH_HTTP_PORT (0: any free
  port) and register under MCP_MESH_AGENT_ID exactly as given.
- The registry rejects (HTTP 200, body status "error") an agent id that is
  not lowercase letters, digits and inner hyphens, e.g. "demo_hello" or
  "Demo": the agent then never appears. Hence `agent_id` below.
- It writes one gin access-log line per HTTP request to stdout, whatever
  ACCESS_LOG (a config field it never reads), GIN_MODE, MCP_MESH_LOG_LEVEL
  or MCP_MESH_DEBUG_MODE say. Hence `routine_request` below.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from meshcompose.errors import RegistryError
from meshcompose.mesh.registry_client import (  # noqa: F401 (re-exported API)
    DEFAULT_TIMEOUT,
    AgentInfo,
    NotRegisteredError,
    aagents,
    agents,
    ahealth,
    ais_registered,
    health,
    is_registered,
    wait_registered,
)

if TYPE_CHECKING:  # `mesh` and `ps` ask for agent ids only: the model stays unloaded for them
    from meshcompose import model

DEFAULT_URL = "http://127.0.0.1:8000"
REGISTRY_BINARY = "mcp-mesh-registry"
AUTO = "auto"
DATABASE_FILE = "registry.db"
INSTALL_HINT = (
    "install the registry (the binary `mcp-mesh-registry` from the npm package "
    "@mcpmesh/cli-linux-x64, e.g. `bash scripts/install-mesh.sh` in mesh-compose's "
    "repository, then put .mesh-stack/bin on PATH), or set registry.command to its path, "
    "or point registry.url at a running registry"
)
MAX_AGENT_ID = 63  # a DNS label; the registry's own limit on names

_LOOPBACK = "127.0.0.1"

# gin's default access-log line, colour codes optional (it colours a terminal):
# [GIN] 2026/11/25 - 15:01:17 | 200 |      96.871µs |       127.0.0.1 | GET      "/health"
_ANSI = r"(?:\x1b\[[0-9;]*m)?"
_ACCESS_LINE = re.compile(
    rf"^\[GIN\] \d{{4}}/\d\d/\d\d - \d\d:\d\d:\d\d \|{_ANSI} (?P<status>\d{{3}}) {_ANSI}\|[^|]*\|[^|]*"
    rf"\|{_ANSI} (?P<method>[A-Z]+) +{_ANSI} \"(?P<path>[^\"]*)\"$"
)
# What mesh-compose's own polls and the SDK's heartbeats ask, several times a minute per agent
# (the SDK's fast heartbeat is HEAD /heartbeat/<agent id>).
_ROUTINE = {("GET", "/health"), ("GET", "/agents"), ("POST", "/heartbeat")}


def normalize_url(url: str, source: str) -> str:
    """`url` without a trailing slash; RegistryError if it is not http(s)://host[:port]."""
    parsed = urllib.parse.urlsplit(url.strip())
    try:
        parsed.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        parsed = parsed._replace(netloc="")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise RegistryError(
            f"registry URL {url!r} from {source} is not an http(s)://HOST[:PORT] URL",
            hint="e.g. http://127.0.0.1:8000",
        )
    return urllib.parse.urlunsplit(parsed._replace(path=parsed.path.rstrip("/"))).rstrip("/")


def _from_host_port(host: str | None, port: int | None) -> str:
    host = host or _LOOPBACK
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port or 8000}"


def resolve_url(
    project_registry: model.Registry,
    *,
    cli_url: str | None,
    cli_host: str | None,
    cli_port: int | None,
    environ: Mapping[str, str],
) -> str:
    """The registry URL, first found: --registry-url (or --registry-host/--registry-port),
    MCP_MESH_REGISTRY_URL in the caller's environment, the project file's
    `registry:` (url, or host/port), then http://127.0.0.1:8000."""
    if cli_url:
        return normalize_url(cli_url, "--registry-url")
    if cli_host or cli_port:
        return normalize_url(_from_host_port(cli_host, cli_port), "--registry-host/--registry-port")
    if environ.get("MCP_MESH_REGISTRY_URL"):
        return normalize_url(environ["MCP_MESH_REGISTRY_URL"], "MCP_MESH_REGISTRY_URL")
    if project_registry.url:
        return normalize_url(project_registry.url, "the project file's registry.url")
    if project_registry.host or project_registry.port:
        return normalize_url(
            _from_host_port(project_registry.host, project_registry.port),
            "the project file's registry.host/port",
        )
    return DEFAULT_URL


def host_and_port(url: str) -> tuple[str, int]:
    """Host (IPv6 without brackets) and port of a registry URL, port defaulted by scheme."""
    parsed = urllib.parse.urlsplit(url)
    default = 443 if parsed.scheme == "https" else 8000
    return parsed.hostname or _LOOPBACK, parsed.port or default


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")


def agent_id(project_name: str, agent_name: str) -> str:
    """`<project>-<agent>` in the registry's alphabet (lowercase, digits, hyphens).

    Predictable, so `ps` and `registered` conditions find the agent without
    asking it. When slugging loses information ("my_agent" and "my-agent"
    would collide) or the id is too long, a short hash of the exact names is
    appended, so distinct agents never share an id.
    """
    project, agent = _slug(project_name) or "project", _slug(agent_name) or "agent"
    readable = f"{project}-{agent}"
    lossless = project == project_name and agent == agent_name
    if lossless and len(readable) <= MAX_AGENT_ID:
        return readable
    import hashlib

    digest = hashlib.sha256(f"{project_name}\0{agent_name}".encode()).hexdigest()[:8]
    return f"{readable[: MAX_AGENT_ID - 9].rstrip('-')}-{digest}"


def agent_environment(
    project_name: str, agent: model.Agent, url: str, log_level: str = "INFO"
) -> dict[str, str]:
    """The variables to add to `agent`'s environment; keys it sets itself are left out.

    Binds to loopback by default: a development mesh must not listen on every
    interface (the SDK's default is 0.0.0.0).
    """
    host, port = host_and_port(url)
    wanted = {
        "MCP_MESH_REGISTRY_URL": url,
        "MCP_MESH_REGISTRY_HOST": host,
        "MCP_MESH_REGISTRY_PORT": str(port),
        "MCP_MESH_LOG_LEVEL": log_level.upper(),
        "HOST": _LOOPBACK,
        "MCP_MESH_HTTP_HOST": _LOOPBACK,
        "MCP_MESH_AGENT_ID": agent_id(project_name, agent.name),
    }
    if agent.replica_of is not None:  # replicas must not share the port the agent's code may fix
        wanted["MCP_MESH_HTTP_PORT"] = "0"
    return {key: value for key, value in wanted.items() if key not in agent.environment}


def managed_command(
    registry: model.Registry,
    *,
    url: str,
    state_dir: Path,
    which: Callable[[str], str | None] | None = None,
) -> tuple[list[str], dict[str, str]] | None:
    """argv and extra environment to run a managed registry; None if not managed.

    `auto` means `mcp-mesh-registry` found on PATH (only there: mesh-compose
    does not guess install locations); RegistryError with install
    instructions if it is missing. Host and port come from `url`, passed as
    flags to `auto` and as HOST/PORT (which the registry also reads) to a
    custom command. The database lives in `state_dir`. Call it only after
    `health(url)` said nothing answers: a running registry is reused.
    """
    if not registry.managed:
        return None
    host, port = host_and_port(url)
    env = {"HOST": host, "PORT": str(port), "DATABASE_URL": str(state_dir / DATABASE_FILE)}
    if tuple(registry.command) != (AUTO,):
        return list(registry.command), env
    if which is None:
        import shutil

        which = shutil.which
    binary = which(REGISTRY_BINARY)
    if not binary:
        raise RegistryError(
            f"registry.command is 'auto' but `{REGISTRY_BINARY}` is not on PATH "
            f"(needed to serve {url})",
            hint=INSTALL_HINT,
        )
    return [binary, "--host", host, "--port", str(port)], env


def routine_request(line: str) -> bool:
    """Whether `line` is the registry's access-log line of a successful routine
    request: a poll (`GET /health`, `GET /agents`) or an agent's heartbeat
    (`POST /heartbeat`, `HEAD /heartbeat/ID`). Failed ones (not 2xx) are not
    routine, nor is any other request (a deregistration, a user's call)."""
    found = _ACCESS_LINE.match(line)
    if found is None or not found["status"].startswith("2"):
        return False
    method, path = found["method"], found["path"]
    return (method, path) in _ROUTINE or (method == "HEAD" and path.startswith("/heartbeat/"))


def without_routine_requests(lines: list[str]) -> list[str]:
    """The registry's output as the merged foreground stream shows it: its own
    log file keeps everything (`logs mesh-registry`)."""
    return [line for line in lines if not routine_request(line)]
