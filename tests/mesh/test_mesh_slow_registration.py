"""On the real stack: an agent that has not registered yet
is `starting`, not `unhealthy`.

With `healthcheck: {registry: true}` and no start period (the example's own
config), a check that counted a missing registration as a failure would
report unhealthy every agent that takes more than about 4 s to register.
`slow` is the example's hello delayed by 6 s before it even imports the SDK,
so it registers well after that.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_helpers import EXAMPLE, wait_until

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(300)]

DELAY = 6  # seconds before the SDK is even imported
PROJECT_FILE = """\
name: slowpoke
python:
  requires: ">=3.11"
  packages: [mcp-mesh]
agents:
  slow:
    script: slow.py
    healthcheck:
      registry: true   # no start_period, as in the example
"""


def test_an_agent_registering_late_is_starting_then_healthy_never_unhealthy(tmp_path: Path, driver):
    driver.start_registry()
    hello = (EXAMPLE / "hello.py").read_text().replace('"hello"', '"slow"')
    (tmp_path / "slow.py").write_text(f"import time\ntime.sleep({DELAY})  # registers late\n\n{hello}")
    (tmp_path / "mesh-compose.yaml").write_text(PROJECT_FILE)
    env = {**os.environ, "VIRTUAL_ENV": str(driver.stack.python.parent.parent), "NO_COLOR": "1"}
    env.pop("MCP_MESH_REGISTRY_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    def slow_status() -> str | None:
        rows = [json.loads(line) for line in cli("ps", "--format", "json").stdout.splitlines()]
        return next((row["Status"] for row in rows if row["Name"] == "slow"), None)

    stream = tmp_path / "up.out"
    with open(stream, "w") as out:
        up = subprocess.Popen([sys.executable, "-m", "meshcompose", "up", "--registry-url", driver.url],
                              cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        statuses: list[str] = []

        def healthy() -> bool:
            status = slow_status()
            if status and (not statuses or statuses[-1] != status):
                statuses.append(status)
            return status == "running (healthy)"

        wait_until(healthy, 120, "slow to become healthy")
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    text = stream.read_text()
    events = [json.loads(line) for line in (tmp_path / ".mesh-compose/slowpoke/events.jsonl").read_text().splitlines()]

    started = next(e for e in events if e["action"] == "start")
    became_healthy = next(e for e in events if e["action"] == "health_status: healthy")
    assert _seconds_between(started, became_healthy) > DELAY  # it really registered late
    assert "running (starting)" in statuses, statuses
    assert statuses.index("running (starting)") < statuses.index("running (healthy)")
    assert not any("unhealthy" in status for status in statuses), statuses
    assert "unhealthy" not in text, text
    assert not [e for e in events if e["action"] == "health_status: unhealthy"]
    driver.down()


def _seconds_between(first: dict, second: dict) -> float:
    from datetime import datetime

    def moment(event: dict) -> float:
        return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()

    return moment(second) - moment(first)
