"""registry: URL resolution, agent environment and ids, managed registry argv,
and reading a (fake, loopback) registry: timeouts, death, agents that never register."""

from __future__ import annotations

import re
import socket
import time

import anyio
import pytest

from fake_registry import FakeRegistry
from meshcompose.errors import RegistryError
from meshcompose.mesh import registry
from meshcompose.model import Agent, Registry, RunKind


@pytest.fixture
def fake():
    server = FakeRegistry().start()
    yield server
    server.die()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def script_agent(name="hello", **kw) -> Agent:
    return Agent(name=name, run=RunKind.SCRIPT, target="/x/hello.py", **kw)


# -- resolve_url -------------------------------------------------------------

FILE = Registry(url="http://file-host:9100")


@pytest.mark.parametrize(
    "file, cli_url, cli_host, cli_port, environ, expected",
    [
        (FILE, "http://cli:1/", "h", 2, {"MCP_MESH_REGISTRY_URL": "http://env:3"}, "http://cli:1"),
        (FILE, None, "cli-host", 7000, {"MCP_MESH_REGISTRY_URL": "http://env:3"}, "http://cli-host:7000"),
        (FILE, None, "cli-host", None, {}, "http://cli-host:8000"),
        (FILE, None, None, 7001, {}, "http://127.0.0.1:7001"),
        (FILE, None, None, None, {"MCP_MESH_REGISTRY_URL": "http://env:3"}, "http://env:3"),
        (FILE, None, None, None, {"MCP_MESH_REGISTRY_URL": ""}, "http://file-host:9100"),
        (FILE, None, None, None, {}, "http://file-host:9100"),
        (Registry(host="reg", port=9200), None, None, None, {}, "http://reg:9200"),
        (Registry(port=9300), None, None, None, {}, "http://127.0.0.1:9300"),
        (Registry(host="::1", port=9400), None, None, None, {}, "http://[::1]:9400"),
        (Registry(), None, None, None, {}, "http://127.0.0.1:8000"),
    ],
)
def test_resolve_url_order(file, cli_url, cli_host, cli_port, environ, expected):
    got = registry.resolve_url(file, cli_url=cli_url, cli_host=cli_host, cli_port=cli_port, environ=environ)
    assert got == expected


@pytest.mark.parametrize("bad", ["localhost:8000", "ftp://x:1", "http://", "http://h:notaport"])
def test_resolve_url_rejects_non_http_urls_naming_the_source(bad):
    with pytest.raises(RegistryError, match="MCP_MESH_REGISTRY_URL"):
        registry.resolve_url(Registry(), cli_url=None, cli_host=None, cli_port=None,
                             environ={"MCP_MESH_REGISTRY_URL": bad})


# -- agent ids and environment -----------------------------------------------

REGISTRY_ALPHABET = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")  # what 3.7.1 accepts


@pytest.mark.parametrize(
    "project, agent, expected",
    [("demo", "hello", "demo-hello"), ("mcp-mesh", "greeter", "mcp-mesh-greeter")],
)
def test_agent_id_is_readable_when_names_already_fit(project, agent, expected):
    assert registry.agent_id(project, agent) == expected


@pytest.mark.parametrize(
    "project, agent",
    [("My_Project", "Hello.World"), ("p", "my_agent"), ("x" * 80, "y" * 80), ("__", "--"), ("Ünïcode", "ägent")],
)
def test_agent_id_is_valid_for_the_registry(project, agent):
    got = registry.agent_id(project, agent)
    assert REGISTRY_ALPHABET.match(got), got
    assert len(got) <= registry.MAX_AGENT_ID
    assert got == registry.agent_id(project, agent)  # predictable


def test_agent_ids_differ_when_slugs_would_collide():
    ids = {registry.agent_id("p", name) for name in ["my-agent", "my_agent", "My-Agent", "my.agent"]}
    assert len(ids) == 4
    long = {registry.agent_id("p", "a" * 70 + suffix) for suffix in "xy"}
    assert len(long) == 2


def test_agent_environment_injects_registry_loopback_and_identity():
    env = registry.agent_environment("demo", script_agent(), "http://127.0.0.1:9100", log_level="debug")
    assert env == {
        "MCP_MESH_REGISTRY_URL": "http://127.0.0.1:9100",
        "MCP_MESH_REGISTRY_HOST": "127.0.0.1",
        "MCP_MESH_REGISTRY_PORT": "9100",
        "MCP_MESH_LOG_LEVEL": "DEBUG",
        "HOST": "127.0.0.1",
        "MCP_MESH_HTTP_HOST": "127.0.0.1",
        "MCP_MESH_AGENT_ID": "demo-hello",
    }


def test_agent_environment_leaves_out_what_the_agent_sets_itself():
    own = {"HOST": "0.0.0.0", "MCP_MESH_AGENT_ID": "mine", "MCP_MESH_REGISTRY_URL": "http://other:1"}
    env = registry.agent_environment("demo", script_agent(environment=own), "http://127.0.0.1:9100")
    assert not set(own) & set(env)
    assert env["MCP_MESH_HTTP_HOST"] == "127.0.0.1" and env["MCP_MESH_LOG_LEVEL"] == "INFO"


# -- managed registry ----------------------------------------------------------


def test_managed_command_not_managed_is_none(tmp_path):
    assert registry.managed_command(Registry(), url="http://127.0.0.1:1", state_dir=tmp_path) is None


def test_managed_command_auto_uses_path_and_url(tmp_path):
    argv, env = registry.managed_command(
        Registry(command=("auto",)), url="http://127.0.0.1:9123", state_dir=tmp_path,
        which=lambda name: f"/opt/bin/{name}",
    )
    assert argv == ["/opt/bin/mcp-mesh-registry", "--host", "127.0.0.1", "--port", "9123"]
    assert env == {"HOST": "127.0.0.1", "PORT": "9123", "DATABASE_URL": str(tmp_path / "registry.db")}


def test_managed_command_auto_missing_says_how_to_install(tmp_path):
    with pytest.raises(RegistryError) as caught:
        registry.managed_command(Registry(command=("auto",)), url="http://127.0.0.1:9123",
                                 state_dir=tmp_path, which=lambda name: None)
    assert "mcp-mesh-registry" in caught.value.message and "PATH" in caught.value.message
    assert "@mcpmesh/cli-linux-x64" in caught.value.hint


def test_managed_command_custom_argv_gets_host_port_in_env(tmp_path):
    argv, env = registry.managed_command(Registry(command=("my-registry", "--flag")),
                                         url="http://localhost", state_dir=tmp_path)
    assert argv == ["my-registry", "--flag"]
    assert (env["HOST"], env["PORT"]) == ("localhost", "8000")


# -- reading the registry ------------------------------------------------------


def test_health_of_a_live_registry_then_a_dead_one(fake):
    assert registry.health(fake.url)
    fake.health_status = "degraded"
    assert not registry.health(fake.url)
    fake.die()
    assert not registry.health(fake.url)
    assert registry.agents(fake.url) is None


def test_another_web_server_is_not_taken_for_a_registry(fake):
    fake.health_status = None  # answers 200 JSON, but not the registry's shape
    assert not registry.health(fake.url)


def test_nothing_listening_is_unhealthy_and_quick():
    started = time.monotonic()
    assert not registry.health(closed_port_url())
    assert registry.agents(closed_port_url()) is None
    assert time.monotonic() - started < 2


def test_a_stalled_registry_is_given_up_on_after_the_timeout(fake):
    fake.stall_seconds = 5
    started = time.monotonic()
    assert registry.agents(fake.url, timeout=0.3) is None
    assert not registry.health(fake.url, timeout=0.3)
    assert time.monotonic() - started < 2.5  # two 0.3 s timeouts, not two 5 s stalls


def test_garbage_answer_reads_as_no_answer(fake):
    fake.broken = True
    assert registry.agents(fake.url) is None
    assert not registry.health(fake.url)


def test_agents_lists_status_and_user_capabilities(fake):
    assert registry.agents(fake.url) == {}  # the real registry's `"agents": null`
    fake.register("demo-hello", capabilities=2)
    fake.register("demo-old", status="unhealthy", capabilities=0)
    listed = registry.agents(fake.url)
    assert set(listed) == {"demo-hello", "demo-old"}
    assert listed["demo-hello"].healthy and listed["demo-hello"].capabilities == 2
    assert not listed["demo-old"].healthy and listed["demo-old"].status == "unhealthy"
    assert registry.is_registered(fake.url, "demo-hello")
    assert not registry.is_registered(fake.url, "demo-old")


def test_async_readers(fake):
    fake.register("demo-hello")

    async def main():
        return await registry.ahealth(fake.url), await registry.aagents(fake.url), \
            await registry.ais_registered(fake.url, "demo-hello")

    healthy, listed, registered = anyio.run(main)
    assert healthy and registered and set(listed) == {"demo-hello"}


# -- wait_registered -----------------------------------------------------------


def wait(url, agent_id, timeout):
    anyio.run(lambda: registry.wait_registered(url, agent_id, interval=0.05, timeout=timeout))


def test_wait_registered_returns_once_listed_healthy(fake):
    fake.register("demo-hello", status="unhealthy")  # a stale entry must not count
    fake.register_later(0.3, "demo-hello")
    started = time.monotonic()
    wait(fake.url, "demo-hello", timeout=10)
    assert 0.25 < time.monotonic() - started < 5


def test_wait_registered_times_out_for_an_agent_that_never_registers(fake):
    fake.register("demo-other")
    with pytest.raises(registry.NotRegisteredError) as caught:
        wait(fake.url, "demo-hello", timeout=0.4)
    assert caught.value.agent_id == "demo-hello" and "not listed" in caught.value.message
    assert isinstance(caught.value, RegistryError)


def test_wait_registered_reports_a_stale_unhealthy_entry(fake):
    fake.register("demo-hello", status="unhealthy")
    with pytest.raises(registry.NotRegisteredError, match="listed as unhealthy"):
        wait(fake.url, "demo-hello", timeout=0.3)


def test_wait_registered_on_a_dead_registry_times_out_instead_of_hanging(fake):
    fake.die()
    started = time.monotonic()
    with pytest.raises(registry.NotRegisteredError, match="registry not answering"):
        wait(fake.url, "demo-hello", timeout=0.5)
    assert time.monotonic() - started < 3


def test_wait_registered_on_a_stalled_registry_is_bounded(fake):
    fake.stall_seconds = 10
    started = time.monotonic()
    with pytest.raises(registry.NotRegisteredError):
        wait(fake.url, "demo-hello", timeout=0.5)
    assert time.monotonic() - started < 4


def test_wait_registered_without_timeout_is_ended_by_cancellation(fake):
    async def main():
        with anyio.move_on_after(0.4) as scope:
            await registry.wait_registered(fake.url, "demo-hello", interval=0.05)
        return scope.cancelled_caught

    assert anyio.run(main)


def test_wait_registered_survives_a_registry_that_comes_back(tmp_path):
    first = FakeRegistry().start()
    port = int(first.url.rsplit(":", 1)[1])
    first.die()

    async def main():
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: registry.wait_registered(first.url, "demo-hello", interval=0.05, timeout=10))
            await anyio.sleep(0.3)
            revived = FakeRegistry.on_port(port).start()
            revived.register("demo-hello")
        return revived

    revived = anyio.run(main)
    revived.die()


# Lines as mcp-mesh-registry 3.7.1 writes them (gin's access log), and its own log lines.
_ACCESS = '[GIN] 2026/11/25 - 15:01:17 | {status} |      96.871µs |       127.0.0.1 | {method:<7}  "{path}"'


@pytest.mark.parametrize(("method", "path", "status", "routine"), [
    ("GET", "/health", 200, True),  # mesh-compose's poll
    ("GET", "/agents", 200, True),  # mesh-compose's poll
    ("POST", "/heartbeat", 200, True),  # the SDK's full heartbeat
    ("HEAD", "/heartbeat/mcp-mesh-hello", 202, True),  # the SDK's fast heartbeat
    ("POST", "/heartbeat", 400, False),  # a failing heartbeat is news
    ("GET", "/health", 503, False),
    ("DELETE", "/agents/mcp-mesh-greeter", 204, False),  # a deregistration
    ("GET", "/agents/mcp-mesh-hello", 200, False),  # someone looking at one agent
    ("POST", "/agents/register", 200, False),
])
def test_routine_requests_are_polls_and_heartbeats_that_succeeded(method, path, status, routine):
    line = _ACCESS.format(method=method, path=path, status=status)
    assert registry.routine_request(line) is routine


def test_routine_request_with_gins_terminal_colours():
    line = ('[GIN] 2026/11/25 - 15:01:17 |\x1b[97;42m 200 \x1b[0m|      96.871µs |       127.0.0.1 |'
            '\x1b[97;44m GET     \x1b[0m "/health"')
    assert registry.routine_request(line)


def test_the_registrys_own_log_lines_are_kept():
    lines = [
        "2026-11-25 15:01:17 INFO     🌟 MCP Mesh Registry Service listening on 127.0.0.1:33071",
        _ACCESS.format(method="GET", path="/health", status=200),
        "2026-11-25 15:01:21 INFO     Agent mcp-mesh-hello registered successfully",
        _ACCESS.format(method="POST", path="/heartbeat", status=200),
        "an agent's line mentioning [GIN] GET \"/health\"",
    ]
    assert registry.without_routine_requests(lines) == [lines[0], lines[2], lines[4]]
