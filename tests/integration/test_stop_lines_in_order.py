"""The stop of a foreground `up` reads in the order it happened: an agent's
last output lines and its `exited` line come before the `stopping` line of
anything it depends on."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.timeout(120)

# Says goodbye on SIGTERM, twice with a pause between (its final lines
# arrive while it is stopping), then exits.
POLITE = """
import os, signal, sys, time
name = os.environ["MESH_COMPOSE_AGENT"]
def on_term(*_):
    print(name, "bye", flush=True)
    time.sleep(0.2)
    print(name, "gone", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print(name, "up", flush=True)
while True:
    time.sleep(0.1)
"""

# Three levels, several agents on each: tops depend on both mids, mids on both roots.
LEVELS = {"top": ["top1", "top2", "top3"], "mid": ["mid1", "mid2"], "root": ["root1", "root2"]}
DEPENDS = {"top": "mid", "mid": "root"}


def chain(project) -> dict:
    project.script("polite.py", POLITE)
    agents = {}
    for level, names in LEVELS.items():
        below = LEVELS.get(DEPENDS.get(level, ""), [])
        for name in names:
            agents[name] = {"script": "polite.py", "stop_grace_period": "5s",
                            **({"depends_on": below} if below else {})}
    return agents


def position(output: str, pattern: str) -> int:
    found = re.search(pattern, output, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{output}"
    return found.start()


def dependency_pairs() -> list[tuple[str, str]]:
    """(dependent, dependency) for every edge of the chain."""
    return [(dependent, dependency) for level, below in DEPENDS.items()
            for dependent in LEVELS[level] for dependency in LEVELS[below]]


def test_each_dependent_has_exited_before_its_dependency_is_stopping(project):
    project.compose(chain(project), name="order")
    up = project.start("up")
    up.wait_for(lambda text: all(f"{name} up" in text for names in LEVELS.values() for name in names))
    up.interrupt()
    assert up.wait(60) == 0, up.output
    out = up.output
    for dependent, dependency in dependency_pairs():
        stopping = position(out, rf"^{dependency} +⇒ stopping")
        assert position(out, rf"^{dependent} +\| {dependent} gone$") < stopping, out
        assert position(out, rf"^{dependent} +⇒ exited with code 0") < stopping, out

    events = [json.loads(line) for line in
              (project.root / ".mesh-compose" / "order" / "events.jsonl").read_text().splitlines()]
    order = [(event["action"], event["service"]) for event in events]
    for dependent, dependency in dependency_pairs():
        assert order.index(("die", dependent)) < order.index(("stop", dependency)), order
