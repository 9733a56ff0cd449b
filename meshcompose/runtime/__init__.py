"""The anyio supervisor: one runner per agent, health, conditions, limits, events, recorders."""
