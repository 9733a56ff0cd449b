"""Provides `time` and a second `ping`; declares hello in the file but uses nothing of it."""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("clock")


@app.tool()
@mesh.tool(capability="time", description="The time of day")
def now() -> str:
    return "12:00"


@app.tool()
@mesh.tool(capability="ping", description="Answers pong")
def ping_clock() -> str:
    return "pong from clock"


@mesh.agent(name="clock", auto_run=True)
class ClockAgent:
    pass
