"""The chain's head: `plan` calls `middle`, which calls `leaf`."""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("front")


@app.tool()
@mesh.tool(capability="plan", dependencies=["middle"])
async def plan(topic: str = "x", middle: mesh.McpMeshTool = None) -> str:
    return "front(" + await middle(topic=topic) + ")"


@mesh.agent(name="front", auto_run=True)
class Agent:
    pass
