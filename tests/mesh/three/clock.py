"""Provides `time` and a second `ping`; declares hello in the file but uses nothing of it."""

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
