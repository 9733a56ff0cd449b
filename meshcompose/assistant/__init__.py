"""`mesh-compose mcp`: the project as an MCP server for an AI assistant.

`tools` answers each tool as plain data from the same `app` calls the CLI
makes, and knows nothing of MCP; `server` publishes those answers over stdio
with the official `mcp` SDK, which only this command imports.
"""
