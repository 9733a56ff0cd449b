"""The chain's end: `leaf` answers, and `boom` always fails."""

import mesh
from fastmcp import FastMCP

app = FastMCP("leaf")


@app.tool()
@mesh.tool(capability="leaf")
def leaf(topic: str = "x") -> str:
    return "leaf:" + topic


@app.tool()
@mesh.tool(capability="boom")
def boom(item: str = "x") -> str:
    raise ValueError(f"no such item: {item}")


@mesh.agent(name="leaf", auto_run=True)
class Agent:
    pass
