"""proc.sockets: which listeners reach beyond loopback, and reading them from
real sockets (loopback only: no test here binds anything else)."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from meshcompose.proc import sockets
from meshcompose.proc.sockets import Listener


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST", True), ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("192.168.1.20", False), ("fe80::1", False),
    ("::ffff:10.0.0.1", False), ("example.org", False), ("", False),
])
def test_is_loopback(host: str, loopback: bool):
    assert sockets.is_loopback(host) is loopback


@pytest.mark.parametrize(("listener", "shown", "beyond"), [
    (Listener("tcp", "0.0.0.0", 43121), "0.0.0.0:43121 (all interfaces)", True),
    (Listener("tcp", "::", 8080), "[::]:8080 (all interfaces)", True),
    (Listener("tcp", "192.168.1.20", 80), "192.168.1.20:80 (a non-loopback address)", True),
    (Listener("udp", "0.0.0.0", 5353), "udp 0.0.0.0:5353 (all interfaces)", True),
    (Listener("tcp", "127.0.0.1", 9000), "127.0.0.1:9000 (loopback)", False),
    (Listener("tcp", "::1", 9000), "[::1]:9000 (loopback)", False),
])
def test_a_listener_says_where_it_listens(listener: Listener, shown: str, beyond: bool):
    assert listener.describe() == shown
    assert listener.beyond_loopback is beyond


WIDE, NARROW = Listener("tcp", "0.0.0.0", 43121), Listener("tcp", "127.0.0.1", 43122)


@pytest.mark.parametrize(("asked", "expected"), [
    ("127.0.0.1", [WIDE]), ("localhost", [WIDE]), ("::1", [WIDE]),
    ("0.0.0.0", []),  # asked for every interface: nothing to break
    ("10.0.0.5", []),  # asked for another host: not a loopback request
    (None, []), ("", []),  # asked for nothing (a plain agent): its own business
])
def test_only_a_loopback_request_is_broken_by_listening_beyond_it(asked: str | None, expected: list[Listener]):
    assert sockets.exposed([NARROW, WIDE, WIDE], asked) == expected


def test_the_warning_names_every_address_and_the_request():
    text = sockets.warning([Listener("tcp", "::", 1), WIDE], "127.0.0.1")
    assert text == ("listening on 0.0.0.0:43121 (all interfaces) and [::]:1 (all interfaces), "
                    "but the project asked for 127.0.0.1")


@pytest.mark.skipif(sys.byteorder != "little", reason="the samples are from a little-endian kernel")
@pytest.mark.parametrize(("text", "family", "expected"), [
    ("0100007F:1F90", socket.AF_INET, ("127.0.0.1", 8080)),
    ("00000000:A871", socket.AF_INET, ("0.0.0.0", 43121)),
    ("00000000000000000000000000000000:0050", socket.AF_INET6, ("::", 80)),
    ("00000000000000000000000001000000:2328", socket.AF_INET6, ("::1", 9000)),
    ("0000000000000000FFFF00000100007F:0016", socket.AF_INET6, ("::ffff:127.0.0.1", 22)),
])
def test_kernel_addresses_decode(text: str, family: int, expected: tuple[str, int]):
    assert sockets._decode_address(text, family) == expected


@pytest.fixture
def own_sockets():
    """A listening TCP socket on 127.0.0.1 and on ::1, a bound UDP socket, and
    a connected UDP socket (talks to one peer: not a listener)."""
    made = []

    def make(family: int, kind: int, address: tuple) -> socket.socket:
        sock = socket.socket(family, kind)
        made.append(sock)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen()
        return sock

    tcp = make(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0))
    udp = make(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0))
    connected = make(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0))
    connected.connect(("127.0.0.1", udp.getsockname()[1]))
    expected = [Listener("tcp", "127.0.0.1", tcp.getsockname()[1]), Listener("udp", "127.0.0.1", udp.getsockname()[1])]
    if socket.has_ipv6:
        try:
            tcp6 = make(socket.AF_INET6, socket.SOCK_STREAM, ("::1", 0))
            expected.append(Listener("tcp", "::1", tcp6.getsockname()[1]))
        except OSError:
            pass  # no IPv6 loopback here
    yield sorted(expected), connected.getsockname()[1]
    for sock in made:
        sock.close()


def test_a_processes_listeners_are_read_from_the_socket_tables(own_sockets):
    expected, connected_port = own_sockets
    found = sockets.listening({"me": [os.getpid()], "nobody": []})
    assert found["nobody"] == []
    mine = [listener for listener in found["me"] if listener in expected or listener.port == connected_port]
    assert mine == expected  # the connected UDP socket is no listener


def test_psutil_reads_the_same_listeners(own_sockets):
    expected, _ = own_sockets
    assert set(expected) <= set(sockets._psutil_listeners([os.getpid()]))
    assert set(expected) <= set(sockets.listening({"me": [os.getpid()]})["me"])


def test_a_process_that_is_gone_listens_on_nothing():
    gone = 2 ** 22 + 12345  # above the default pid_max
    assert sockets.listening({"gone": [gone]}) == {"gone": []}
