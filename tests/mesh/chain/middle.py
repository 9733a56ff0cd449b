"""The chain's middle: `middle` calls `leaf`."""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("middle")


@app.tool()
@mesh.tool(capability="middle", dependencies=["leaf"])
async def middle(topic: str = "x", leaf: mesh.McpMeshTool = None) -> str:
    return "middle(" + await leaf(topic=topic) + ")"


@mesh.agent(name="middle", auto_run=True)
class Agent:
    pass
