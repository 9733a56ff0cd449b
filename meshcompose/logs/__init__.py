"""Agent output: the on-disk record, per-agent files with rotation, reading and following, the pump."""
