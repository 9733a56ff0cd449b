"""The `registered` condition and the registry health probe, for one project.

`depends_on: {provider: {condition: registered}}` holds once the MCP Mesh
registry lists the provider as healthy; it can no longer hold once the
provider has ended. `healthcheck: {registry: true}` asks the same question
periodically. Both need only the registry URL and the project name (an
agent's registry id is derived from them), so the runtime hands this object
to its runners instead of answering registry questions itself.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Callable

import anyio

from meshcompose.mesh import registry, registry_client

Probe = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Registration:
    """Registry questions about one project's agents; `url` None means no registry is known."""

    url: str | None
    project: str

    def agent_id(self, agent: str) -> str:
        return registry.agent_id(self.project, agent)

    async def wait(self, agent: str, ended: Callable[[], Awaitable[str]]) -> tuple[bool, str]:
        """Until the registry lists `agent` as healthy: (True, ""); or until
        `ended()` returns, which it does with the reason once the agent ended
        for good: (False, reason)."""
        outcome: list[tuple[bool, str]] = []
        async with anyio.create_task_group() as tg:

            async def registered() -> None:
                await registry_client.wait_registered(self._url(), self.agent_id(agent))
                outcome.append((True, ""))
                tg.cancel_scope.cancel()

            async def gone() -> None:
                reason = await ended()
                outcome.append((False, f"'{agent}' never registered: {reason}"))
                tg.cancel_scope.cancel()

            tg.start_soon(registered)
            tg.start_soon(gone)
        return outcome[0]

    def probe(self, agent: str) -> Probe:
        """A health probe: is `agent` registered and healthy right now?"""
        agent_id = self.agent_id(agent)

        async def registered() -> bool:
            return await registry_client.ais_registered(self._url(), agent_id)

        return registered

    def _url(self) -> str:
        # Planning always decides a URL (flags, env or the default) before agents run.
        if self.url is None:
            raise RuntimeError("no registry URL was decided for this project")
        return self.url
