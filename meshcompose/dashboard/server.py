"""The dashboard's HTTP server: starlette routes behind the guard, served by
uvicorn on a loopback socket of its own.

The page loads once, then one server-sent event stream carries everything
live: `snapshot` (ps rows and the timeline), `graph`, `logs` (the history
first, then new records) and `events`. Actions are POSTs. Reading files and
the process table runs in worker threads, so a slow disk never stalls the
stream of another tab.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from meshcompose.app.dashboard import DashboardSource
from meshcompose.dashboard.guard import Guard, new_token
from meshcompose.errors import MeshComposeError

STATIC = Path(__file__).with_name("static")
POLL_SECONDS = 0.25  # logs, events and the state file: a change reaches the page within ~0.5 s
SNAPSHOT_SECONDS = 2.0  # at the latest (uptime and CPU move even when nothing else does)
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Served:
    url: str  # with the token
    port: int


def open_socket(port: int) -> socket.socket:
    """A listening socket on loopback only (port 0: the kernel picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise MeshComposeError(f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}",
                               hint="pick another port with --port, or 0 for any") from None
    sock.listen(64)
    return sock


def build_app(source: DashboardSource, token: str, port: int,
              stopping: Callable[[], bool] = lambda: False) -> Guard:
    """The routes behind the guard; event streams end once `stopping()` is true
    (a stream never ends on its own, and the server waits for its connections)."""
    snapshots = Snapshots(source)
    snapshots.warm()  # the first page does not wait for the first process scan
    page = (STATIC / "index.html").read_text().replace("{{token}}", token)

    async def index(request: Request) -> Response:
        """The page, with the latest snapshot and the graph in it as data (the
        rows show before the live stream connects; a fresher snapshot follows)."""
        initial = {"snapshot": snapshots.latest or await snapshots.current(),
                   "graph": await anyio.to_thread.run_sync(source.graph)}
        return Response(page.replace("{{initial}}", json_in_html(initial)), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("app.js", "style.css"):
            return PlainTextResponse("not found\n", status_code=404)
        return Response((STATIC / name).read_bytes(), media_type=CONTENT_TYPES[Path(name).suffix])

    async def snapshot(request: Request) -> Response:
        return JSONResponse(await snapshots.current())

    async def graph(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(source.graph))

    async def stream(request: Request) -> Response:
        return StreamingResponse(live(source, snapshots, stopping), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    async def action(request: Request) -> Response:
        body = await _json_body(request)
        verb, names = body.get("action"), body.get("names") or []
        if not isinstance(verb, str) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return JSONResponse({"ok": False, "error": "expected {action, names: [...]}"}, status_code=400)
        return await _answer(lambda: source.act(verb, names))

    async def down(request: Request) -> Response:
        body = await _json_body(request)
        if body.get("confirm") is not True:
            return JSONResponse({"ok": False, "error": "down needs {\"confirm\": true}"}, status_code=400)
        return await _answer(source.down)

    routes = [Route("/", index), Route("/static/{name}", static), Route("/api/snapshot", snapshot),
              Route("/api/graph", graph), Route("/api/stream", stream),
              Route("/api/action", action, methods=["POST"]), Route("/api/down", down, methods=["POST"])]
    return Guard(Starlette(routes=routes), token, port)


def json_in_html(data: Any) -> str:
    """JSON for a `<script type="application/json">` block: no `<`, `>` or `&`
    survives unescaped, so no text in it can close the block or open a tag."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw[:65536]) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _answer(call: Callable[[], str]) -> Response:
    try:
        message = await anyio.to_thread.run_sync(call)
    except MeshComposeError as error:
        return JSONResponse({"ok": False, "error": str(error), "hint": getattr(error, "hint", None)},
                            status_code=409)
    return JSONResponse({"ok": True, "message": message})


def _sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class Snapshots:
    """The latest snapshot, shared by every open page: computed again when
    the state or events files change, or once it is SNAPSHOT_SECONDS old. A
    page that connects gets the latest one at once, then fresh ones."""

    def __init__(self, source: DashboardSource) -> None:
        self.source = source
        self.latest: dict[str, Any] | None = None
        self.stamp: tuple[int, ...] = ()
        self.taken = 0.0
        self.lock = anyio.Lock()

    def warm(self) -> None:
        self.stamp, self.latest, self.taken = _stamp(self.source), self.source.snapshot(), time.monotonic()

    async def current(self) -> dict[str, Any]:
        async with self.lock:
            stamp = await anyio.to_thread.run_sync(_stamp, self.source)
            if self.latest is None or stamp != self.stamp or time.monotonic() - self.taken > SNAPSHOT_SECONDS:
                self.latest = await anyio.to_thread.run_sync(self.source.snapshot)
                self.stamp, self.taken = stamp, time.monotonic()
            return self.latest


async def live(source: DashboardSource, snapshots: Snapshots, stopping: Callable[[], bool]) -> AsyncIterator[str]:
    """The page's one stream: the latest snapshot and the graph at once, the
    history of logs and events next, then every change."""
    sent = snapshots.latest or await snapshots.current()
    yield _sse("snapshot", sent)
    yield _sse("graph", await anyio.to_thread.run_sync(source.graph))
    history, logs = await anyio.to_thread.run_sync(source.history)
    try:
        past, events = await anyio.to_thread.run_sync(source.events)
        yield _sse("logs", history)
        yield _sse("events", past)
        while not stopping():
            latest = await snapshots.current()
            if latest is not sent:
                sent = latest
                yield _sse("snapshot", latest)
            new_logs = await anyio.to_thread.run_sync(logs.poll)
            if new_logs:
                yield _sse("logs", new_logs)
            new_events = await anyio.to_thread.run_sync(events.poll)
            if new_events:
                yield _sse("events", new_events)
            await anyio.sleep(POLL_SECONDS)
    finally:
        logs.close()


def _stamp(source: DashboardSource) -> tuple[int, ...]:
    """Changes when the state file is rewritten, a spawn is journalled or an event appended."""
    from meshcompose.app.dashboard import state_files

    stamps: list[int] = []
    for path in state_files(source.identity):
        try:
            info = os.stat(path)
        except OSError:
            stamps += [0, 0]
        else:
            stamps += [info.st_mtime_ns, info.st_size]
    return tuple(stamps)


def serve(source: DashboardSource, port: int, *, on_ready: Callable[[Served], None],
          exit_with_run: bool = False) -> None:
    """Serves until interrupted (or, with `exit_with_run`, until the run it
    saw ends). The token is made here and given only to `on_ready`: uvicorn
    logs no request lines, so it never reaches a log."""
    import uvicorn

    sock = open_socket(port)
    port = sock.getsockname()[1]
    token = new_token()
    servers: list[uvicorn.Server] = []
    app = build_app(source, token, port, stopping=lambda: bool(servers) and servers[0].should_exit)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False,
                            date_header=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    servers.append(server)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            if exit_with_run:
                group.start_soon(_end_with_run, source, server)
            on_ready(Served(f"http://127.0.0.1:{port}/?token={token}", port))
            await server.serve(sockets=[sock])
            group.cancel_scope.cancel()

    try:
        anyio.run(main)
    finally:
        sock.close()


RUN_START_WAIT_SECONDS = 60.0


async def _end_with_run(source: DashboardSource, server: Any) -> None:
    """Asks the server to stop once the run's supervisor has gone (or has not
    come within a minute)."""
    from meshcompose.app.dashboard import supervisor_alive

    deadline = time.monotonic() + RUN_START_WAIT_SECONDS
    seen = False
    while True:
        alive = await anyio.to_thread.run_sync(supervisor_alive, source.identity)
        seen = seen or alive
        if (seen and not alive) or (not seen and time.monotonic() > deadline):
            server.should_exit = True
            return
        await anyio.sleep(0.5)
