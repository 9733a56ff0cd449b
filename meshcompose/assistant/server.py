"""The MCP server over stdio, built with the official `mcp` SDK (FastMCP).

Each tool is a thin async wrapper: its parameters make the input schema its
docstring the description, and the work runs in a worker thread through
`tools.Tools`. Answers carry the text and the structured content; a
`MeshComposeError` becomes a tool error with the CLI's words and hint.
Tools that change the project exist only with `allow_control`.
"""

from __future__ import annotations

from typing import Any, Callable

import anyio.to_thread
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from meshcompose.app.project import ProjectSelection
from meshcompose.assistant.tools import DEFAULT_LINES, Answer, Tools
from meshcompose.errors import MeshComposeError

READ_ONLY_NOTE = ("Read-only: the tools that change the project or call its agents (up, down, start, stop, "
                  "restart, scale, call_tool) are offered when the server is started with --allow-control.")
CONTROL_NOTE = ("Control is allowed: up, down, start, stop, restart and scale change the running project; "
                "call_tool calls its agents' tools.")
READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
CHANGE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False)


def serve(selection: ProjectSelection, allow_control: bool) -> None:
    """Serves until the client closes stdin."""
    build(selection, allow_control).run("stdio")


def build(selection: ProjectSelection, allow_control: bool) -> FastMCP:
    tools = Tools(selection)
    server = FastMCP(
        name="mesh-compose",
        instructions="The agents of one mesh-compose project: their status, logs, events, graph and mesh. "
                     + (CONTROL_NOTE if allow_control else READ_ONLY_NOTE),
    )
    for function in _looking(tools):
        server.add_tool(function, annotations=READ)
    if allow_control:
        for function in _changing(tools):
            server.add_tool(function, annotations=CHANGE)
    return server


async def _answer(call: Callable[[], Answer]) -> CallToolResult:
    try:
        answer = await anyio.to_thread.run_sync(call)
    except MeshComposeError as error:
        text = str(error) + (f"\nhint: {error.hint}" if error.hint else "")
        raise ToolError(text) from None
    return CallToolResult(content=[TextContent(type="text", text=answer.text)], structuredContent=answer.data)


def _looking(tools: Tools) -> list[Callable[..., Any]]:
    async def status(agents: list[str] | None = None) -> CallToolResult:
        """Each agent's state as `mesh-compose ps --format json` shows it (state, health, pid, restarts,
        uptime, CPU, memory, Python, and the mesh columns in a run with the registry). `agents`: only these."""
        return await _answer(lambda: tools.status(agents or ()))

    async def logs(agent: str | None = None, lines: int = DEFAULT_LINES, pattern: str | None = None,
                   since: str | None = None) -> CallToolResult:
        """The newest log lines of one agent (or all, merged by time). `pattern`: keep only lines containing
        this text (case-insensitive). `since`: an RFC 3339 time, a Unix time, or a duration ago such as 10m.
        At most 1000 lines and 64 KiB; `truncated` says when older lines were cut."""
        return await _answer(lambda: tools.logs(agent, lines, pattern, since))

    async def events(agent: str | None = None, since: str | None = None,
                     limit: int = DEFAULT_LINES) -> CallToolResult:
        """The project's newest lifecycle events (start, die, restart, stop, skip, health_status, ...)
        in compose's shape, oldest first. `since`: as for logs. At most `limit` (up to 1000)."""
        return await _answer(lambda: tools.events(agent, since, limit))

    async def graph() -> CallToolResult:
        """The declared dependency graph: start waves and each `depends_on` edge with its condition."""
        return await _answer(tools.graph)

    async def wait_until_ready(agents: list[str] | None = None, timeout: float = 60.0) -> CallToolResult:
        """Wait until the agents (default: all of the run) are up (healthy where they have a healthcheck),
        have completed, or can no longer get there, for at most `timeout` seconds. Returns each agent's
        outcome with its reason, as `up -d` prints them."""
        return await _answer(lambda: tools.wait_until_ready(agents or (), timeout))

    async def mesh(agents: list[str] | None = None, all: bool = False) -> CallToolResult:
        """The running mesh: for each agent its id, registry status, endpoint, capabilities, tools and
        each dependency's provider (or unresolved), and where that differs from `depends_on`.
        `all`: the SDK's framework capabilities too."""
        return await _answer(lambda: tools.mesh(agents or (), all))

    async def check_config() -> CallToolResult:
        """Validate the project file: `valid`, or every problem located as FILE:LINE:COL: key.path: message."""
        return await _answer(tools.check_config)

    async def list_projects(all: bool = False) -> CallToolResult:
        """The projects running on this machine (`mesh-compose ls`); `all`: also those whose supervisor died."""
        return await _answer(lambda: tools.list_projects(all))

    return [status, logs, events, graph, mesh, wait_until_ready, check_config, list_projects]


def _changing(tools: Tools) -> list[Callable[..., Any]]:
    async def up(agents: list[str] | None = None, wait_timeout: float = 60.0) -> CallToolResult:
        """Start the project in the background (`up -d`), or the named agents and their dependencies, and
        wait up to `wait_timeout` seconds for them to be up. Missing packages are not installed: the answer
        gives the command that would install them."""
        return await _answer(lambda: tools.up(agents or (), wait_timeout))

    async def down(timeout: float | None = None) -> CallToolResult:
        """Stop every agent in reverse dependency order and end the supervisor. `timeout`: the stop grace
        period for every agent, in seconds, instead of each one's own."""
        return await _answer(lambda: tools.down(timeout))

    async def start(agents: list[str] | None = None) -> CallToolResult:
        """Start agents of the running project (with missing dependencies) and wait until they are up."""
        return await _answer(lambda: tools.start(agents or ()))

    async def stop(agents: list[str] | None = None, timeout: float | None = None) -> CallToolResult:
        """Stop agents of the running project (default: all); the supervisor keeps running."""
        return await _answer(lambda: tools.stop(agents or (), timeout))

    async def restart(agents: list[str] | None = None, timeout: float | None = None) -> CallToolResult:
        """Restart agents of the running project (default: all) and wait until they are up again."""
        return await _answer(lambda: tools.restart(agents or (), timeout))

    async def call_tool(agent: str, tool: str, arguments: dict[str, Any] | None = None,
                        timeout: float = 30.0) -> CallToolResult:
        """Call a tool of a running agent over its MCP endpoint (as `mesh-compose call`), with `arguments`
        as the tool's input; its text result, or a tool error with the tool's own text."""
        return await _answer(lambda: tools.call_tool(agent, tool, arguments, timeout))

    async def scale(counts: dict[str, int], timeout: float | None = None,
                    wait_timeout: float = 60.0) -> CallToolResult:
        """Run N processes of each agent named in `counts` ({"api": 3}) in the running project: the
        highest-numbered replicas stop (gracefully, `timeout`: their stop grace), new ones start once their
        dependencies hold, and the call waits up to `wait_timeout` seconds until they are up."""
        return await _answer(lambda: tools.scale(counts, timeout, wait_timeout))

    return [up, down, start, stop, restart, scale, call_tool]
