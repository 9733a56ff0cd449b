"""The chain's middle: `middle` calls `leaf`."""

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
