"""Which addresses an agent's processes listen on, and which of those reach
beyond loopback.

A development mesh is meant to listen on loopback only, yet under load the
MCP Mesh SDK can race at start-up and bind a second server to 0.0.0.0 even
with HOST=127.0.0.1: so the supervisor looks at the sockets
instead of trusting the setting. One rule, here: a listener is a listening
TCP socket or an unconnected, bound UDP socket (it takes datagrams from
anyone); it is beyond loopback when its address is unspecified (0.0.0.0,
::: every interface) or any address that is not a loopback one.

On Linux one call reads each process's fd links (cheap) and, only if any is
a socket, each of /proc/net/{tcp,tcp6,udp,udp6} once for every agent asked
about: a read costs milliseconds whatever the number of agents, where
psutil's per-process call would read all four tables for every process.
Elsewhere psutil answers per process. The tables are those of the calling
process's network namespace: the supervisor shares its agents'.

Imports no anyio: `ps` may use it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import psutil

IS_LINUX = sys.platform.startswith("linux")
PROC_ROOT = "/proc"
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"  # TCP_CLOSE: bound, no peer
# /proc/net table -> (protocol, family, the state that means "listening")
_TABLES = {"tcp": ("tcp", socket.AF_INET, _TCP_LISTEN), "tcp6": ("tcp", socket.AF_INET6, _TCP_LISTEN),
           "udp": ("udp", socket.AF_INET, _UDP_UNCONNECTED), "udp6": ("udp", socket.AF_INET6, _UDP_UNCONNECTED)}


@dataclass(frozen=True, order=True)
class Listener:
    """One listening socket: `tcp 0.0.0.0:43121`."""

    protocol: str  # tcp | udp
    ip: str
    port: int

    @property
    def address(self) -> str:
        """`0.0.0.0:43121`, `[::]:43121`."""
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    @property
    def scope(self) -> str:
        """`all interfaces`, `loopback`, or `a non-loopback address`."""
        if ipaddress.ip_address(self.ip).is_unspecified:
            return "all interfaces"
        return "loopback" if is_loopback(self.ip) else "a non-loopback address"

    @property
    def beyond_loopback(self) -> bool:
        return not is_loopback(self.ip)

    def describe(self) -> str:
        """`0.0.0.0:43121 (all interfaces)`; UDP says so: `udp 0.0.0.0:5353 (all interfaces)`."""
        prefix = "udp " if self.protocol == "udp" else ""
        return f"{prefix}{self.address} ({self.scope})"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, an IPv4-mapped loopback, or `localhost`; a name
    other than localhost is not assumed to be loopback (it is not resolved)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def exposed(listeners: Iterable[Listener], asked_host: str | None) -> list[Listener]:
    """The listeners that break the project's request: those beyond loopback,
    when the project asked for a loopback host; none when it asked for
    nothing (a plain agent may listen where it likes) or for another host."""
    if not asked_host or not is_loopback(asked_host):
        return []
    return sorted(listener for listener in set(listeners) if listener.beyond_loopback)


def warning(found: Collection[Listener], asked_host: str) -> str:
    """`listening on 0.0.0.0:43121 (all interfaces), but the project asked for 127.0.0.1`."""
    where = " and ".join(listener.describe() for listener in sorted(found))
    return f"listening on {where}, but the project asked for {asked_host}"


def listening(groups: Mapping[str, Collection[int]]) -> dict[str, list[Listener]]:
    """Each group's (an agent's process tree's) listeners, sorted, from one
    read of the socket tables."""
    if not IS_LINUX:
        return {name: _psutil_listeners(pids) for name, pids in groups.items()}
    inodes = {name: _socket_inodes(pids) for name, pids in groups.items()}
    if not any(inodes.values()):
        return {name: [] for name in groups}
    table = _linux_listeners()
    return {name: sorted({table[inode] for inode in found if inode in table}) for name, found in inodes.items()}


# -- Linux: /proc ------------------------------------------------------------------


def _socket_inodes(pids: Iterable[int]) -> set[str]:
    found: set[str] = set()
    for pid in pids:
        directory = f"{PROC_ROOT}/{pid}/fd"
        try:
            fds = os.listdir(directory)
        except OSError:
            continue  # gone, or not ours to read
        for fd in fds:
            try:
                target = os.readlink(f"{directory}/{fd}")
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                found.add(target[8:-1])
    return found


def _linux_listeners() -> dict[str, Listener]:
    """inode -> listener, for every listening socket in this network namespace."""
    found: dict[str, Listener] = {}
    for table, (protocol, family, listening_state) in _TABLES.items():
        try:
            with open(f"{PROC_ROOT}/net/{table}", "rb") as handle:
                lines = handle.read().decode("ascii", "replace").splitlines()[1:]
        except OSError:
            continue  # no IPv6 here
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != listening_state:
                continue
            ip, port = _decode_address(fields[1], family)
            if port:
                found[fields[9]] = Listener(protocol, ip, port)
    return found


def _decode_address(text: str, family: int) -> tuple[str, int]:
    """`0100007F:1F90` -> ("127.0.0.1", 8080): the kernel prints the address as
    32-bit words in host byte order and the port in hex."""
    hex_ip, _, hex_port = text.partition(":")
    words = [int(hex_ip[index:index + 8], 16) for index in range(0, len(hex_ip), 8)]
    packed = struct.pack(f"={len(words)}I", *words)
    return socket.inet_ntop(family, packed), int(hex_port, 16)


# -- elsewhere: psutil ---------------------------------------------------------------


def _psutil_listeners(pids: Iterable[int]) -> list[Listener]:
    found: set[Listener] = set()
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except (psutil.Error, OSError):
            continue  # gone, or not ours to read
        for conn in connections:
            udp = conn.type == socket.SOCK_DGRAM
            if conn.laddr and conn.laddr.port and (conn.status == psutil.CONN_LISTEN or (udp and not conn.raddr)):
                found.add(Listener("udp" if udp else "tcp", conn.laddr.ip, conn.laddr.port))
    return sorted(found)
