"""`mesh-compose mcp`: the project as an MCP server, driven by the official
SDK's own client over stdio against a real running project."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from cli_helpers import ProjectDir, _env, ok, wait_until

pytest.importorskip("mcp", reason="the MCP SDK needs Python 3.10+")

import anyio  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

QUIET = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nwhile True: time.sleep(0.1)\n"
CHATTY = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
for n in range(5):
    print(f"alpha {n}" if n % 2 else f"beta {n}", flush=True)
print("colour \\x1b]52;c;Y2xpcA==\\x07 end", flush=True)
while True: time.sleep(0.1)
"""
READ_ONLY = {"status", "logs", "events", "graph", "mesh", "wait_until_ready", "check_config", "list_projects"}
CONTROL = {"up", "down", "start", "stop", "restart", "scale", "call_tool"}


@pytest.fixture
def running(project: ProjectDir) -> Iterator[ProjectDir]:
    project.script("quiet.py", QUIET)
    project.script("chatty.py", CHATTY)
    project.compose({
        "base": {"script": "quiet.py"},
        "chatty": {"script": "chatty.py", "depends_on": ["base"]},
        "never": {"script": "quiet.py", "healthcheck": {"cmd": [sys.executable, "-c", "raise SystemExit(1)"],
                                                          "interval": "200ms", "retries": 1}},
    }, name="assist")
    ok(project.cli("up", "-d", "base", "chatty"))
    try:
        yield project
    finally:
        project.cli("down", "-t", "5")


def session(project: ProjectDir, *calls: tuple[str, dict[str, Any]], control: bool = False) -> list[Any]:
    """Starts `mesh-compose mcp` in the project, lists its tools, makes `calls`
    in order; returns [tool names, result, result, ...]."""
    args = ["-m", "meshcompose", "mcp", *(["--allow-control"] if control else [])]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(project.root), env=_env())

    async def talk() -> list[Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = await client.list_tools()
            answers: list[Any] = [{tool.name for tool in tools.tools}]
            for name, arguments in calls:
                answers.append(await client.call_tool(name, arguments))
            return answers

    return anyio.run(talk)


def text(result: Any) -> str:
    return "".join(block.text for block in result.content)


def test_the_tool_list_is_read_only_without_allow_control(running: ProjectDir):
    assert session(running)[0] == READ_ONLY
    assert session(running, control=True)[0] == READ_ONLY | CONTROL


def test_status_agrees_with_ps(running: ProjectDir):
    _, answer = session(running, ("status", {}))
    listed = [json.loads(line) for line in ok(running.cli("ps", "-a", "--format", "json")).stdout.splitlines()]
    assert not answer.isError
    agents = answer.structuredContent["agents"]
    assert [(a["Name"], a["Status"], a["Pid"]) for a in agents] == [(a["Name"], a["Status"], a["Pid"]) for a in listed]
    assert {a["Name"] for a in agents} == {"base", "chatty"}
    assert "base: running" in text(answer)


def test_logs_keep_the_pattern_and_are_text(running: ProjectDir):
    wait_until(lambda: "end" in running.cli("logs", "chatty").stdout, timeout=30, what="chatty's lines")
    _, kept, clipboard = session(running, ("logs", {"agent": "chatty", "pattern": "ALPHA"}),
                                 ("logs", {"pattern": "colour"}))
    lines = kept.structuredContent["lines"]
    assert [line["text"] for line in lines] == ["alpha 1", "alpha 3"]
    assert {line["agent"] for line in lines} == {"chatty"}
    shown = clipboard.structuredContent["lines"][0]["text"]
    assert "\x1b" not in shown and "\x07" not in shown and "^[]52;c;Y2xpcA==^G" in shown


def test_wait_until_ready_gives_each_outcome_with_its_reason(running: ProjectDir):
    started = running.cli("start", "never", "--wait-timeout", "0")  # it never becomes healthy
    assert "Traceback" not in started.stderr

    def never_status() -> str:
        return json.loads(ok(running.cli("ps", "never", "--format", "json")).stdout)["State"]

    wait_until(lambda: never_status() == "unhealthy", timeout=30, what="never's failed probe")
    _, ready, never = session(running, ("wait_until_ready", {"agents": ["base"], "timeout": 30}),
                              ("wait_until_ready", {"agents": ["never"], "timeout": 1}))
    assert ready.structuredContent == {"ready": True, "agents": [
        {"name": "base", "status": "running", "ready": True, "message": None}]}
    assert never.structuredContent["ready"] is False
    outcome = never.structuredContent["agents"][0]
    assert outcome["ready"] is None and outcome["status"] == "unhealthy" and outcome["message"], outcome
    assert f"never: unhealthy, not ready in time ({outcome['message']})" in text(never)


def test_control_tools_need_the_flag_and_restart_gives_a_new_pid(running: ProjectDir):
    before = json.loads(ok(running.cli("ps", "base", "--format", "json")).stdout)["Pid"]
    _, refused = session(running, ("restart", {"agents": ["base"]}))
    assert refused.isError and "restart" in text(refused)
    assert json.loads(ok(running.cli("ps", "base", "--format", "json")).stdout)["Pid"] == before
    _, restarted = session(running, ("restart", {"agents": ["base"], "timeout": 5}), control=True)
    assert not restarted.isError, text(restarted)
    after = json.loads(ok(running.cli("ps", "base", "--format", "json")).stdout)["Pid"]
    assert after != before and "base" in restarted.structuredContent["restarted"]


def test_scale_runs_more_processes_of_an_agent_and_checks_the_counts(running: ProjectDir):
    _, scaled, refused = session(running, ("scale", {"counts": {"base": 2}}),
                                 ("scale", {"counts": {"base": -1}}), control=True)
    assert not scaled.isError, text(scaled)
    assert scaled.structuredContent["agents"] == [
        {"agent": "base", "before": 1, "after": 2, "started": ["base-2"], "stopped": []}]
    rows = [json.loads(line) for line in ok(running.cli("ps", "--format", "json")).stdout.splitlines()]
    assert {row["Name"] for row in rows} >= {"base", "base-2"}  # the running one keeps its plain name
    assert refused.isError and "0 or more" in text(refused)


def test_errors_use_the_cli_words(running: ProjectDir):
    _, unknown, down, stopped = session(running, ("status", {"agents": ["nosuch"]}), ("down", {"timeout": 5}),
                                        ("stop", {"agents": ["base"]}), control=True)
    assert unknown.isError and "no agent named 'nosuch'" in text(unknown) and "base" in text(unknown)
    assert not down.isError and set(down.structuredContent["stopped"]) == {"base", "chatty"}
    assert stopped.isError and "project 'assist' is not running" in text(stopped)


def test_check_config_reports_located_problems(project: ProjectDir):
    project.script("quiet.py", QUIET)
    path = project.compose({"a": {"script": "quiet.py", "restart": "on-falure"}, "b": {"scirpt": "quiet.py"}})
    _, valid, graph = session(project, ("check_config", {}), ("graph", {}))
    assert valid.structuredContent["valid"] is False
    assert graph.isError and "agents.a.restart: did you mean 'on-failure'? must be one of" in text(graph)
    problems = valid.structuredContent["problems"]
    assert {p["path"] for p in problems} >= {"agents.a.restart", "agents.b.scirpt"}
    assert all(p["file"].endswith(path.name) and p["line"] > 0 for p in problems)
    path.write_text(path.read_text().replace("on-falure", "on-failure").replace("scirpt", "script"))
    _, fixed = session(project, ("check_config", {}))
    assert fixed.structuredContent == {"valid": True, "project": "t", "agents": ["a", "b"]}


def test_up_starts_the_project_in_the_background_and_down_stops_it(project: ProjectDir):
    project.script("quiet.py", QUIET)
    project.compose({"base": {"script": "quiet.py"}, "top": {"script": "quiet.py", "depends_on": ["base"]}})
    try:
        _, up, status, down = session(project, ("up", {"agents": ["top"], "wait_timeout": 60}), ("status", {}),
                                      ("down", {"timeout": 5}), control=True)
    finally:
        project.cli("down", "-t", "5")
    assert not up.isError and up.structuredContent["ready"] is True, text(up)
    assert {a["Name"]: a["State"] for a in status.structuredContent["agents"]} == {"base": "running",
                                                                                     "top": "running"}
    assert down.structuredContent["stopped"] == ["top", "base"]
    assert ok(project.cli("ps")).stdout.strip() == "no agents running"
