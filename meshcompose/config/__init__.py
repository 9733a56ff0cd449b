"""Project files: discovery, YAML, env files, interpolation, schema validation, merge, the model."""
