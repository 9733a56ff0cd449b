"""`tools` and `call`: an agent's tools, listed and called over its real MCP endpoint.

Clients of the running project: the registry says where each agent listens
(one read), then the MCP SDK talks to the agent itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshcompose.app.mesh import MeshOptions, mesh
from meshcompose.app.project import ProjectIdentity
from meshcompose.errors import MeshComposeError, UsageError
from meshcompose.mesh.facts import MeshAgent
from meshcompose.mesh.mcpclient import CallResult, ToolInfo

__all__ = ["AgentTools", "CallOutcome", "CallResult", "ToolInfo", "call", "parse_arguments", "tools"]

DEFAULT_TIMEOUT = 30.0
TRACE_HEADER = "X-Trace-ID"  # the SDK starts a call's trace with this id (meshctl call --trace sends it)


@dataclass(frozen=True)
class AgentTools:
    agent: str
    endpoint: str
    tools: tuple[ToolInfo, ...]
    error: str | None = None  # why its tools could not be listed


@dataclass(frozen=True)
class CallOutcome:
    agent: str
    tool: str
    result: CallResult


class UnknownToolError(MeshComposeError):
    """The agent serves no tool of that name."""


class NotInMeshError(MeshComposeError):
    """The agent has no live registration, so no endpoint to call."""


def tools(project: ProjectIdentity, names: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT,
          framework: bool = False) -> list[AgentTools]:
    """Each asked agent's tools (every registered agent when none is named)."""
    import anyio

    from meshcompose.mesh import mcpclient

    report = mesh(project, MeshOptions(tuple(names)))
    agents = [agent for agent in report.facts.agents if names or agent.status == "healthy"]
    out: list[AgentTools] = []

    async def list_all() -> None:
        for agent in agents:
            if agent.status != "healthy" or not agent.endpoint:
                out.append(AgentTools(agent.name, agent.endpoint, (), _not_in_mesh(agent)))
                continue
            try:
                listed = await mcpclient.list_tools(agent.endpoint, timeout)
            except mcpclient.McpUnavailableError:
                raise
            except MeshComposeError as error:
                out.append(AgentTools(agent.name, agent.endpoint, (), error.message))
                continue
            out.append(AgentTools(agent.name, agent.endpoint, tuple(_described(listed, agent, framework))))

    anyio.run(list_all)
    return out


def call(project: ProjectIdentity, agent_name: str, tool: str, arguments: Sequence[str],
         timeout: float = DEFAULT_TIMEOUT, trace_id: str | None = None) -> CallOutcome:
    """The result of `tool` on `agent_name` with `arguments` (one JSON object, or
    key=value words). With `trace_id`, the call starts that trace (the SDK takes
    it from X-Trace-ID, as from meshctl's calls)."""
    import anyio

    from meshcompose.mesh import mcpclient

    report = mesh(project, MeshOptions((agent_name,)))
    (agent,) = report.facts.agents
    if agent.status != "healthy" or not agent.endpoint:
        registered = [a.name for a in mesh(project, MeshOptions()).facts.agents if a.status == "healthy"]
        raise NotInMeshError(_not_in_mesh(agent),
                             hint=f"registered agents: {', '.join(registered) or 'none'}")
    words = list(arguments)

    async def exchange() -> tuple[list[ToolInfo], CallResult | None]:
        return await mcpclient.call_tool(agent.endpoint, tool, lambda schema: parse_arguments(words, schema),
                                         timeout, {TRACE_HEADER: trace_id} if trace_id else None)

    listed, result = anyio.run(exchange)
    if result is None:
        names = [info.name for info in _described(listed, agent, framework=False)]
        raise UnknownToolError(f"agent '{agent_name}' has no tool '{tool}'",
                               hint=f"its tools: {', '.join(names) or 'none'} (`mesh-compose tools {agent_name}`)")
    return CallOutcome(agent_name, tool, result)


def _not_in_mesh(agent: MeshAgent) -> str:
    if agent.status == "absent":
        return f"agent '{agent.name}' is not registered with the registry"
    return f"agent '{agent.name}' is {agent.status} in the registry: it has no live endpoint"


def _described(listed: Sequence[ToolInfo], agent: MeshAgent, framework: bool) -> list[ToolInfo]:
    """The tools with the registry's descriptions where the agent gives none (the SDK
    puts a capability's description in the registry only), framework tools left out
    unless asked for."""
    by_tool = {capability.tool: capability for capability in agent.capabilities}
    out = []
    for info in listed:
        capability = by_tool.get(info.name)
        if capability is not None and capability.framework and not framework:
            continue
        if info.name.startswith("__") and not framework:
            continue
        description = info.description or (capability.description if capability else "")
        out.append(ToolInfo(info.name, description, info.input_schema))
    return out


def parse_arguments(words: Sequence[str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """One JSON object, or key=value words. A value is a string where the tool's
    input schema says so, and is read as JSON otherwise (numbers, true, lists),
    falling back to the string as written."""
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        try:
            value = json.loads(words[0])
        except ValueError as error:
            raise UsageError(f"the arguments are not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise UsageError("the arguments must be one JSON object, e.g. '{\"name\": \"Ada\"}'")
        return value
    found = schema.get("properties")
    properties: Mapping[str, Any] = found if isinstance(found, dict) else {}
    out: dict[str, Any] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise UsageError(f"argument {word!r}: expected KEY=VALUE or one JSON object")
        kind = (properties.get(key) or {}).get("type") if isinstance(properties.get(key), dict) else None
        out[key] = text if kind == "string" else _json_or_text(text)
    return out


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
