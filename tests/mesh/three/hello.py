"""Provides `greeting` and `ping`, and a tool that always fails."""

# FastAPI first: @mesh.agent imports it before it stores this agent's
# server, and on a busy machine the SDK's start-up pipeline would not wait
# (docs/mesh.md, "Three traps").
import fastapi  # noqa: F401
import mesh
from fastmcp import FastMCP

app = FastMCP("hello")


@app.tool()
@mesh.tool(capability="greeting", description="Greets someone by name", tags=["en"], version="1.2.0")
def hello(name: str = "world") -> str:
    return f"Hello, {name}!"


@app.tool()
@mesh.tool(capability="ping", description="Answers pong")
def ping_hello() -> str:
    return "pong from hello"


@app.tool()
@mesh.tool(capability="failing", description="Always fails")
def fail(reason: str = "on purpose") -> str:
    raise ValueError(f"the tool failed {reason}")


@mesh.agent(name="hello", auto_run=True)
class HelloAgent:
    pass
