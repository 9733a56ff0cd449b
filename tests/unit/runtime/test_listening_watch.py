"""The resource watcher's looks at what agents listen on:
when it looks (fake clock), what it reports (fake socket tables), and that
each address is warned about once."""

from __future__ import annotations

import math

import pytest

from meshcompose.proc import process
from meshcompose.proc.sockets import Listener
from meshcompose.runtime import resources

IDENT = process.ProcessIdentity(pid=999_999_999, create_time=0.0)  # no such process
WIDE, WIDE6, NARROW = Listener("tcp", "0.0.0.0", 43121), Listener("tcp", "::", 43121), Listener("tcp", "127.0.0.1", 1)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Members:
    """Stands in for the tree sampler: each agent is one made-up pid."""

    def members(self, agents):
        return {name: {index} for index, name in enumerate(sorted(agents))}


@pytest.fixture
def world(monkeypatch):
    """A watcher on a fake clock whose socket tables say what `tables` holds."""
    tables: dict[str, list[Listener]] = {}
    looks: list[list[str]] = []

    def listening(groups):
        looks.append(sorted(groups))
        return {name: tables.get(name, []) for name in groups}

    monkeypatch.setattr(resources.sockets, "listening", listening)
    clock = Clock()
    return resources.ResourceWatcher(clock=clock, sampler=Members()), clock, tables, looks


def reports_into(found: list):
    return lambda addresses, warning: found.append((addresses, warning))


def test_a_loopback_agent_listening_wide_is_warned_about_once_per_address(world):
    watcher, clock, tables, _ = world
    found: list = []
    watcher.watch_listening("hello", IDENT, "t", "127.0.0.1", reports_into(found))
    tables["hello"] = [NARROW]
    clock.now += resources.LISTEN_FIRST
    watcher._tick()
    tables["hello"] = [NARROW, WIDE]
    clock.now += 2 * resources.LISTEN_FIRST
    watcher._tick()
    clock.now += 4 * resources.LISTEN_FIRST
    watcher._tick()  # still there: no second warning
    tables["hello"] = [NARROW, WIDE, WIDE6]
    clock.now += 8 * resources.LISTEN_FIRST
    watcher._tick()
    assert found == [
        ((), None),
        (("0.0.0.0:43121",), "listening on 0.0.0.0:43121 (all interfaces), but the project asked for 127.0.0.1"),
        (("0.0.0.0:43121",), None),
        (("0.0.0.0:43121", "[::]:43121"), "listening on [::]:43121 (all interfaces), but the project asked for 127.0.0.1"),
    ]


def test_a_restart_on_the_same_address_is_not_warned_again(world):
    watcher, clock, tables, _ = world
    found: list = []
    tables["hello"] = [WIDE]
    for _ in range(2):  # the agent, then its restart
        watcher.watch_listening("hello", IDENT, "t", "127.0.0.1", reports_into(found))
        clock.now += resources.LISTEN_FIRST
        watcher._tick()
        watcher.unwatch("hello")
    assert [warning is not None for _, warning in found] == [True, False]


@pytest.mark.parametrize("asked", [None, "", "0.0.0.0", "10.0.0.5"])
def test_without_a_loopback_request_nothing_is_looked_at(world, asked):
    watcher, clock, tables, looks = world
    tables["plain"] = [WIDE]
    watcher.watch_listening("plain", IDENT, "t", asked, reports_into([]))
    assert watcher._next_delay() == math.inf  # nothing due: the loop sleeps
    clock.now += 100
    watcher._tick()
    assert looks == []


def test_looks_back_off_to_the_slow_pace_and_agents_started_together_share_one(world):
    watcher, clock, _, looks = world
    watcher.watch_listening("a", IDENT, "t", "127.0.0.1", reports_into([]))
    clock.now += 0.3
    watcher.watch_listening("b", IDENT, "t", "::1", reports_into([]))
    delays = []
    for _ in range(8):
        delay = watcher._next_delay()
        delays.append(round(delay, 1))
        clock.now += delay
        watcher._tick()
    assert looks[0] == ["a", "b"]  # one read of the tables for both
    assert delays[:3] == [0.7, 2.0, 4.0]  # a is due 1 s after its start, 0.3 s ago
    assert delays[-2:] == [resources.LISTEN_PERIOD] * 2


def test_unwatch_stops_the_looks(world):
    watcher, clock, _, looks = world
    watcher.watch_listening("a", IDENT, "t", "127.0.0.1", reports_into([]))
    watcher.unwatch("a")
    clock.now += 100
    watcher._tick()
    assert looks == [] and watcher._next_delay() == math.inf
