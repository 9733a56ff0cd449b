"""`mesh-compose graph --timeline` on a real run: the critical chain and a bar per agent."""

from __future__ import annotations

import json

from cli_helpers import ok


def test_graph_timeline_shows_the_critical_chain_of_a_real_run(project) -> None:  # type: ignore[no-untyped-def]
    project.script("db.py", "import time\ntime.sleep(0.3)\nprint('db ready', flush=True)\ntime.sleep(60)\n")
    project.script("idle.py", "import time\ntime.sleep(60)\n")
    project.compose({
        "db": {"script": "db.py", "healthcheck": {"log": "db ready", "timeout": "20s"}},
        "cache": {"script": "idle.py"},
        "api": {"script": "idle.py", "depends_on": {"db": {"condition": "healthy"}, "cache": {"condition": "started"}}},
        "web": {"script": "idle.py", "depends_on": {"api": {"condition": "started"}}},
    })
    try:
        ok(project.cli("up", "-d"))
        text = ok(project.cli("graph", "--timeline")).stdout
        lines = text.splitlines()
        chain = [line for line in lines if " @" in line and "(" in line]
        assert chain[0].startswith("web @") and "(started)" in chain[0]
        assert chain[1].startswith("└─api @")
        assert chain[2].lstrip().startswith("└─db @") and "(healthy)" in chain[2]
        api_row = next(line for line in lines if line.lstrip("* ").startswith("api "))
        assert "db (healthy), cache (started); last: db" in api_row
        document = json.loads(ok(project.cli("graph", "--timeline", "--format", "json")).stdout)
        assert document["chain"] == ["db", "api", "web"]
        bars = {bar["name"]: bar for bar in document["bars"]}
        assert set(bars) == {"db", "cache", "api", "web"}
        assert bars["api"]["started"] >= bars["db"]["ready"]  # it waited for db's health
    finally:
        ok(project.cli("down"))


def test_graph_timeline_before_any_run_says_so(project) -> None:  # type: ignore[no-untyped-def]
    project.script("idle.py", "import time\ntime.sleep(60)\n")
    project.compose({"a": {"script": "idle.py"}})
    assert "no run recorded yet" in ok(project.cli("graph", "--timeline")).stdout
    result = project.cli("graph", "--timeline", "--format", "dot")
    assert result.returncode != 0 and "text or json" in result.stderr
