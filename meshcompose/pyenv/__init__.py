"""Which Python runs each agent: discovery, the cached probe, checks, installs."""
