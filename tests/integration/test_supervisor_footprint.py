"""What a supervisor costs while its agents run: no thread per agent."""

from __future__ import annotations

import json
import sys

import psutil
import pytest

from cli_helpers import ProjectDir

AGENTS = 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pidfds are Linux's")
def test_a_supervisor_of_many_agents_does_not_keep_a_thread_per_agent(project: ProjectDir):
    project.script("idle.py", "import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    project.compose({f"a{index:02d}": {"script": "idle.py"} for index in range(AGENTS)})
    try:
        assert project.cli("up", "-d", timeout=120).returncode == 0
        doc = json.loads(project.read(".mesh-compose/t/state.json"))
        supervisor = psutil.Process(doc["supervisor"]["pid"])
        assert sum(record["status"] == "running" for record in doc["agents"].values()) == AGENTS
        # asyncio before 3.12 waits for each child in a thread of its own; pidfds need none.
        assert supervisor.num_threads() < 5, supervisor.threads()
    finally:
        assert project.cli("down", timeout=120).returncode == 0
