"""The chain's end: `leaf` answers, and `boom` always fails."""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
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
