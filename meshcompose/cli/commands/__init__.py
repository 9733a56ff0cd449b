"""One module per command: `add_arguments(parser, name)` and `run(args) -> int`."""
