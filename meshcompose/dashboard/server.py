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


def build_app(source: DashboardSource, token: str, port: int) -> Guard:
    page = (STATIC / "index.html").read_text().replace("{{token}}", token).replace("{{project}}", "")

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("app.js", "style.css"):
            return PlainTextResponse("not found\n", status_code=404)
        return Response((STATIC / name).read_bytes(), media_type=CONTENT_TYPES[Path(name).suffix])

    async def snapshot(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(source.snapshot))

    async def graph(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(source.graph))

    async def stream(request: Request) -> Response:
        return StreamingResponse(live(source), media_type="text/event-stream",
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


async def live(source: DashboardSource) -> AsyncIterator[str]:
    """The page's one stream: everything now, then every change."""
    history, logs = await anyio.to_thread.run_sync(source.history)
    past, events = await anyio.to_thread.run_sync(source.events)
    try:
        yield _sse("graph", await anyio.to_thread.run_sync(source.graph))
        yield _sse("snapshot", await anyio.to_thread.run_sync(source.snapshot))
        yield _sse("logs", history)
        yield _sse("events", past)
        stamp, sent = _stamp(source), time.monotonic()
        while True:
            await anyio.sleep(POLL_SECONDS)
            new_logs = await anyio.to_thread.run_sync(logs.poll)
            if new_logs:
                yield _sse("logs", new_logs)
            new_events = await anyio.to_thread.run_sync(events.poll)
            if new_events:
                yield _sse("events", new_events)
            now = _stamp(source)
            if new_events or now != stamp or time.monotonic() - sent > SNAPSHOT_SECONDS:
                stamp, sent = now, time.monotonic()
                yield _sse("snapshot", await anyio.to_thread.run_sync(source.snapshot))
    finally:
        logs.close()


def _stamp(source: DashboardSource) -> tuple[int, ...]:
    """Changes when the state file is rewritten (or a spawn is journalled)."""
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
    config = uvicorn.Config(build_app(source, token, port), log_level="warning", access_log=False,
                            lifespan="off", server_header=False, date_header=False)
    server = uvicorn.Server(config)

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
