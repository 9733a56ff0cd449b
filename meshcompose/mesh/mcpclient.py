"""Listing and calling an agent's tools over its real MCP endpoint, with the official `mcp` SDK.

The SDK is an optional dependency (`mesh-compose[mcp]`, Python 3.10+) and is
imported here only, inside the functions: nothing else pays for it.

Every exchange runs under one deadline: the SDK's streamable-HTTP client
waits forever when its transport fails underneath it (a refused connection,
a server error inside an event stream), so only the deadline ends those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meshcompose.errors import MeshComposeError

MCP_PATH = "/mcp"  # where SDK agents serve streamable HTTP


class McpUnavailableError(MeshComposeError):
    """The MCP client library cannot be imported here."""


class McpTimeoutError(MeshComposeError):
    """The agent did not answer in time."""


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallResult:
    is_error: bool
    texts: tuple[str, ...]  # the text contents, in order
    others: tuple[Mapping[str, Any], ...]  # every other content item, as JSON data
    structured: Any = None  # structuredContent, when the tool gave one
    raw: Mapping[str, Any] = field(default_factory=dict)  # the whole result as JSON data


def _sdk() -> Any:
    import sys

    if sys.version_info < (3, 10):
        raise McpUnavailableError("`tools` and `call` need Python 3.10 or newer (the MCP SDK does)",
                                  hint="run mesh-compose with Python 3.10+")
    try:
        import mcp
        import mcp.client.streamable_http
    except ImportError:
        raise McpUnavailableError("`tools` and `call` need the MCP SDK, which is not installed",
                                  hint="install it with `pip install 'mesh-compose[mcp]'`") from None
    return mcp


def _url(endpoint: str) -> str:
    return endpoint.rstrip("/") + MCP_PATH


async def list_tools(endpoint: str, timeout: float) -> list[ToolInfo]:
    """The tools the agent at `endpoint` serves."""
    found: list[ToolInfo] = []

    async def exchange(session: Any) -> None:
        found.extend(await _tools(session))

    await _session(endpoint, timeout, exchange)
    return found


async def call_tool(endpoint: str, tool: str, arguments: Callable[[Mapping[str, Any]], Mapping[str, Any]],
                    timeout: float, headers: Mapping[str, str] | None = None,
                    ) -> tuple[list[ToolInfo], CallResult | None]:
    """The agent's tools and, when `tool` is among them, the result of calling it
    with `arguments(its input schema)` (None when it is not: the caller says
    what exists). One session: the listing costs one round trip. `headers` go
    with every request (the SDK reads a trace id from X-Trace-ID)."""
    tools: list[ToolInfo] = []
    outcome: list[CallResult] = []

    async def exchange(session: Any) -> None:
        tools.extend(await _tools(session))
        schema = next((info.input_schema for info in tools if info.name == tool), None)
        if schema is not None:
            result = await session.call_tool(tool, dict(arguments(schema)))
            outcome.append(_result(result))

    await _session(endpoint, timeout, exchange, headers)
    return tools, (outcome[0] if outcome else None)


async def _tools(session: Any) -> list[ToolInfo]:
    listed = await session.list_tools()
    return [ToolInfo(tool.name, tool.description or "", dict(tool.inputSchema or {})) for tool in listed.tools]


def _result(result: Any) -> CallResult:
    texts, others = [], []
    for item in result.content:
        if getattr(item, "type", None) == "text":
            texts.append(item.text)
        else:
            others.append(item.model_dump(mode="json", exclude_none=True))
    return CallResult(bool(result.isError), tuple(texts), tuple(others), result.structuredContent,
                      result.model_dump(mode="json", exclude_none=True))


async def _session(endpoint: str, timeout: float, exchange: Any, headers: Mapping[str, str] | None = None) -> None:
    mcp = _sdk()
    import anyio

    try:
        with anyio.fail_after(timeout):
            async with mcp.client.streamable_http.streamablehttp_client(
                    _url(endpoint), headers=dict(headers or {}), timeout=timeout) as streams:
                read, write = streams[0], streams[1]
                async with mcp.ClientSession(read, write) as session:
                    await session.initialize()
                    await exchange(session)
    except MeshComposeError:
        raise
    except TimeoutError:
        raise McpTimeoutError(f"the agent at {endpoint} did not answer over MCP within {timeout:g}s",
                              hint="raise --timeout, or check the agent's log (`mesh-compose logs AGENT`)") from None
    except mcp.McpError as error:
        raise MeshComposeError(f"the agent at {endpoint} refused the request: {error}") from None
    except Exception as error:  # transport failures arrive wrapped in exception groups
        inner = _innermost(error)
        if isinstance(inner, MeshComposeError):
            raise inner from None
        if isinstance(inner, TimeoutError):
            raise McpTimeoutError(f"the agent at {endpoint} did not answer over MCP within {timeout:g}s") from None
        raise MeshComposeError(f"cannot talk MCP to the agent at {endpoint}: {_reason(error)}",
                               hint="`mesh-compose mesh` shows whether it is registered and where") from None


def _innermost(error: BaseException) -> BaseException:
    inner = getattr(error, "exceptions", None)
    while inner:
        error = inner[0]
        inner = getattr(error, "exceptions", None)
    return error


def _reason(error: BaseException) -> str:
    inner = _innermost(error)
    return str(inner) or type(inner).__name__
