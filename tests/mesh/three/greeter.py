"""Declares only hello in the file, but resolves `time` from clock, asks for a
`weather` nobody offers, and `ping`, which hello and clock both offer."""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("greeter")


@app.tool()
@mesh.tool(capability="welcome", dependencies=["greeting", "time", "weather", "ping"])
async def welcome(name: str = "team", greeting: mesh.McpMeshTool = None, time: mesh.McpMeshTool = None,
                  weather: mesh.McpMeshTool = None,
                  ping: mesh.McpMeshTool = None) -> str:
    said = await greeting(name=name) if greeting else f"Hi, {name}."
    at = await time() if time else "sometime"
    return f"{said} It is {at}."


@mesh.agent(name="greeter", auto_run=True)
class GreeterAgent:
    pass
