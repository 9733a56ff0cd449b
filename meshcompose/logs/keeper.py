"""The log keeper: agents keep their output channel when the supervisor dies.

An agent's stdout and stderr are pipes the supervisor reads. If the
supervisor is SIGKILLed, the last read end closes and the next write of an
agent that keeps printing kills it with SIGPIPE: no stop signal, no grace.

So each supervisor starts one keeper per run (`python -m
meshcompose.logs.keeper LOG_DIR`, in its own session, holding no agent
token, so `down` never counts it as an agent) and hands it, over a unix
socket pair (SCM_RIGHTS), a duplicate of the read end of every agent pipe it
spawns. While the supervisor lives the keeper never reads: it only holds the
pipes open, and closes each one when its writers are all gone (POLLHUP), so
restarts do not pile up descriptors. When the socket ends (the supervisor
exited or died), it drains every pipe it still holds into the agents' log
files (same records as the supervisor writes) until the writers are gone,
which is when `down` has stopped them gracefully; then it exits.

Why this and not another design: the agents are not touched (their pipes
stay plain pipes, no FIFO in the file system, no wrapper process per
agent), the supervisor's fast path is unchanged (it still reads its own
pipes), and one small process per project costs nothing while idle.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
from pathlib import Path

from meshcompose.logs.lines import DEFAULT_MAX_LINE, bounded, complete_lines, decode
from meshcompose.logs.logfiles import LogFile, log_path

_SEPARATOR = b"\0"
KEEPER_NICENESS = 10
_READ = 64 * 1024
# poll() reports these whatever it was asked for: the writers are gone.
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class KeeperClient:
    """The supervisor's end: starts the keeper and hands it pipe read ends."""

    def __init__(self, log_dir: Path) -> None:
        # SEQPACKET: message boundaries, and an end of stream when the supervisor goes.
        import subprocess  # the supervisor's side only: the keeper itself stays small

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.child = subprocess.Popen(
            [sys.executable, "-m", "meshcompose.logs.keeper", str(log_dir), str(theirs.fileno())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), start_new_session=True, close_fds=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MESH_COMPOSE_")},
        )
        theirs.close()
        # The keeper only holds pipes until the supervisor goes: it yields the
        # CPU to the agents starting beside it. Nothing waits for it to run,
        # since descriptors in flight on the socket stay open in the kernel.
        try:
            own = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, self.child.pid, min(own + KEEPER_NICENESS, 19))
        except OSError:
            pass

    def keep(self, agent: str, stream: str, fd: int) -> None:
        """Hand the keeper a duplicate of `fd` (the read end of `agent`'s `stream` pipe)."""
        try:
            socket.send_fds(self.sock, [agent.encode() + _SEPARATOR + stream.encode()], [fd])
        except OSError:
            pass  # no keeper: the agent only loses the protection against a supervisor death

    def close(self) -> None:
        """The supervisor is done: the keeper drains what is left and exits."""
        self.sock.close()
        self.child.poll()


class _Kept:
    def __init__(self, agent: str, stream: str, fd: int) -> None:
        self.agent, self.stream, self.fd = agent, stream, fd
        self.rest = b""


def _receive(sock: socket.socket, kept: dict[int, _Kept]) -> bool:
    """One handed-over pipe into `kept`; False when the supervisor is gone."""
    try:
        message, fds, _flags, _addr = socket.recv_fds(sock, 1024, 4)
    except OSError:
        return False
    if not message and not fds:
        return False
    agent, _, stream = message.partition(_SEPARATOR)
    for fd in fds:
        kept[fd] = _Kept(agent.decode(errors="replace"), stream.decode(errors="replace") or "out", fd)
    return True


def hold(sock: socket.socket, kept: dict[int, _Kept]) -> None:
    """While the supervisor lives: hold every pipe, drop those whose writers are gone."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    while True:
        for fd, events in poller.poll():
            if fd == sock.fileno():
                known = set(kept)
                if not _receive(sock, kept):
                    poller.unregister(fd)
                    return
                for new in set(kept) - known:
                    poller.register(new, 0)  # never read: the supervisor does; only notice the hangup
            elif events & _GONE and fd in kept:
                poller.unregister(fd)
                os.close(kept.pop(fd).fd)


def drain(log_dir: Path, kept: dict[int, _Kept]) -> None:
    """After the supervisor: every pipe into its agent's log file, until its writers are gone."""
    logs: dict[str, LogFile] = {}
    poller = select.poll()
    for fd in kept:
        poller.register(fd, select.POLLIN)
    while kept:
        for fd, events in poller.poll():
            item = kept[fd]
            data = os.read(fd, _READ) if events & (select.POLLIN | select.POLLHUP) else b""
            log = logs.get(item.agent) or logs.setdefault(item.agent, LogFile(log_path(log_dir, item.agent)))
            lines, item.rest = complete_lines(item.rest + data, DEFAULT_MAX_LINE)
            if not data and item.rest:
                lines, item.rest = [*lines, *bounded([decode(item.rest)], DEFAULT_MAX_LINE)], b""
            if lines:
                log.write_lines(item.stream, lines)
                log.flush()
            if not data:
                poller.unregister(fd)
                os.close(kept.pop(fd).fd)
    for log in logs.values():
        log.close()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    log_dir, sock_fd = Path(argv[0]), int(argv[1])
    sock = socket.socket(fileno=sock_fd)
    kept: dict[int, _Kept] = {}
    hold(sock, kept)
    sock.close()
    drain(log_dir, kept)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
