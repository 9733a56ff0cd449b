"""An agent listening beyond the loopback host the project
asked for is warned about loudly (merged stream, events.jsonl) and `ps` shows
where it listens.

Real agents bind real sockets, inside a private network namespace (only an
isolated `lo` there, see tests/support/netns.py), so 0.0.0.0 exposes nothing.
"""

from __future__ import annotations

import netns
import pytest

from cli_helpers import ProjectDir

pytestmark = pytest.mark.timeout(300)

_REASON = netns.unavailable_reason()
needs_netns = pytest.mark.skipif(_REASON is not None, reason=f"no private network namespace: {_REASON}")

LISTENER = """\
import socket, sys, time
server = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
server.bind((sys.argv[1], 0))
server.listen()
print("bound port", server.getsockname()[1], flush=True)
time.sleep(600)
"""

SCENARIO = """
up = start_up()
try:
    # wide and narrow start together, so they are looked at together: once
    # wide's warning is out, narrow (and plain) have been looked at too.
    wait_for(lambda: any(e["action"] == "exposed" for e in events("t")), 60, "the exposed event")
    rows = ps_rows()
    table = cli("ps")
finally:
    stop(up)
print(json.dumps({"stream": stream(), "events": events("t"), "rows": rows,
                  "table": table.stdout, "table_err": table.stderr}))
"""


@pytest.fixture
def project(tmp_path):
    proj = ProjectDir(tmp_path)
    yield proj
    proj.cleanup()


@needs_netns
def test_an_agent_on_every_interface_is_warned_about_once_and_ps_shows_where(project: ProjectDir):
    project.script("listener.py", LISTENER)
    loopback = {"HOST": "127.0.0.1"}
    project.compose({
        "wide": {"script": "listener.py", "args": ["0.0.0.0"], "environment": loopback},
        "narrow": {"script": "listener.py", "args": ["127.0.0.1"], "environment": loopback},
        # No host asked for (a plain project gives no default request): where it listens is its own business.
        "plain": {"script": "listener.py", "args": ["0.0.0.0"]},
    })
    seen = netns.run_scenario(SCENARIO, cwd=project.root)

    ports = _bound_ports(seen["stream"])
    bound = {"wide": f"0.0.0.0:{ports['wide']}"}
    warnings = [line for line in seen["stream"].splitlines() if "warning: listening on" in line]
    assert len(warnings) == 1, seen["stream"]  # once, and only for wide
    assert warnings[0].split()[0] == "wide", warnings
    assert warnings[0].endswith(
        f" warning: listening on {bound['wide']} (all interfaces), but the project asked for 127.0.0.1")

    exposed = [event for event in seen["events"] if event["action"] == "exposed"]
    assert [(event["service"], event["attributes"]["message"]) for event in exposed] == [
        ("wide", f"listening on {bound['wide']} (all interfaces), but the project asked for 127.0.0.1")]

    rows = seen["rows"]
    assert rows["wide"]["Exposed"] == [bound["wide"]]
    assert rows["narrow"]["Exposed"] == [] and rows["plain"]["Exposed"] == []
    header, *lines = seen["table"].splitlines()
    assert header.split()[-1] == "EXPOSED"
    assert next(line for line in lines if line.startswith("wide")).split()[-1] == bound["wide"]
    assert f"warning: wide listens beyond loopback on {bound['wide']}" in seen["table_err"]


def _bound_ports(stream: str) -> dict[str, str]:
    """The port each agent printed it bound: {"wide": "41611", ...}."""
    found = {}
    for line in stream.splitlines():
        name, sep, text = line.partition("|")
        if sep and text.strip().startswith("bound port "):
            found[name.strip()] = text.split()[-1]
    return found


@needs_netns
def test_an_ipv6_wildcard_is_every_interface_too(project: ProjectDir):
    project.script("listener6.py", LISTENER.replace("socket.socket()", "socket.socket(socket.AF_INET6)"))
    project.compose({"wide6": {"script": "listener6.py", "args": ["::"],
                               "environment": {"HOST": "::1"}}})
    seen = netns.run_scenario(SCENARIO, cwd=project.root)
    port = _bound_ports(seen["stream"])["wide6"]
    warning = f" warning: listening on [::]:{port} (all interfaces), but the project asked for ::1"
    assert any(line.startswith("wide6") and line.endswith(warning) for line in seen["stream"].splitlines()), \
        seen["stream"]
    assert seen["rows"]["wide6"]["Exposed"] == [f"[::]:{port}"]
