"""The dependency graph (the one start and stop order), launch specs, the run plan."""
