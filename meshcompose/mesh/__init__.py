"""The MCP Mesh registry: which URL, the client, the registered condition, the managed registry."""
