"""The dashboard's door: every request shows the token, names our own host,
and a change comes from our own page.

Another local user can reach 127.0.0.1, and a web page the user visits can
make their browser send requests there (and, by DNS rebinding, read the
answers under a name of its own). So, before any route runs:

- the Host header must be the loopback address and port we serve on (a
  rebinding page's requests carry its own name): else 403;
- the token (32 random bytes) must come with the request, in the
  `X-Mesh-Compose-Token` header or the `token` query parameter (an
  EventSource cannot set headers): missing, 401; wrong, 403; compared in
  constant time;
- a POST must carry an Origin that is this very origin: else 403. No CORS
  header is ever sent, so no other origin can read an answer either.

Every answer forbids framing, sniffing, caching and referrers, and the
page's content security policy allows only its own scripts and styles.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Iterable, MutableMapping
from typing import Any, Callable
from urllib.parse import parse_qs

TOKEN_BYTES = 32
TOKEN_HEADER = b"x-mesh-compose-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
     b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class Guard:
    """ASGI middleware in front of the dashboard's routes."""

    def __init__(self, app: App, token: str, port: int) -> None:
        self.app = app
        self.token = token.encode()
        self.hosts = frozenset(f"{name}:{port}".encode() for name in LOOPBACK_NAMES)
        self.origins = frozenset(b"http://" + host for host in self.hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        status = self.refusal(scope)
        if status is not None:
            await _plain(send, status)
            return

        async def secured(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, secured)

    def refusal(self, scope: Scope) -> int | None:
        """The status that refuses this request, or None to let it in."""
        headers = _headers(scope["headers"])
        host = headers.get(b"host", [b""])
        if len(host) != 1 or host[0] not in self.hosts:
            return 403
        given = headers.get(TOKEN_HEADER) or [value.encode() for value in _query(scope).get("token", [])]
        if not given:
            return 401
        if len(given) != 1 or not hmac.compare_digest(given[0], self.token):
            return 403
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get(b"origin", [b""])
            if len(origin) != 1 or origin[0] != b"http://" + host[0]:
                return 403
        return None


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    for key, value in raw:
        found.setdefault(key.lower(), []).append(value)
    return found


def _query(scope: Scope) -> dict[str, list[str]]:
    try:
        return parse_qs(scope.get("query_string", b"").decode("ascii"))
    except UnicodeDecodeError:
        return {}


async def _plain(send: Send, status: int) -> None:
    body = {401: b"401: the dashboard needs its token (open the URL mesh-compose printed)\n",
            403: b"403: forbidden\n"}[status]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
