"""A real MCP Mesh agent that provides the `greeting` capability.

Run it alone with `mesh-compose up hello.py`, or with greeter.py through the
mesh-compose.yaml beside it. mesh-compose sets the registry URL, binds the
agent to loopback and gives it a stable MCP_MESH_AGENT_ID.
"""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("hello")


@app.tool()
@mesh.tool(capability="greeting", description="Greets someone by name")
def hello(name: str = "world") -> str:
    return f"Hello, {name}!"


# auto_run keeps the process alive, serving MCP over HTTP and sending
# heartbeats to the registry until SIGTERM, when it deregisters.
@mesh.agent(name="hello", auto_run=True)
class HelloAgent:
    pass
