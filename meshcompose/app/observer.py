"""What a running project reports (agent status snapshots, notices, the
observer seam), as the CLI renders it: the runtime's value types, named here
so the CLI depends on the application layer only."""

from __future__ import annotations

from meshcompose.runtime.events import AgentStatus, Notice, Observer

__all__ = ["AgentStatus", "Notice", "Observer"]
