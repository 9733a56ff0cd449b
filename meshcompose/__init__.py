"""mesh-compose: a compose-style orchestrator for multi-agent Python systems."""

__version__ = "0.1.0"
