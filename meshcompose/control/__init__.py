"""`.mesh-compose/`: the state file, the lock, paths, the control protocol and its handler."""
