"""A real MCP Mesh agent that depends on the `greeting` capability.

The registry resolves `greeting` to the hello agent and the SDK injects a
proxy for it into `welcome`; nothing here knows where hello runs.
"""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("greeter")


@app.tool()
@mesh.tool(capability="welcome", dependencies=["greeting"])
async def welcome(name: str = "team", greeting: mesh.McpMeshTool = None) -> str:
    if greeting is None:  # the registry has not resolved `greeting` (yet)
        return f"(no greeting service) Hi, {name}."
    return f"{await greeting(name=name)} Welcome aboard."


@mesh.agent(name="greeter", auto_run=True)
class GreeterAgent:
    pass
