"""The code execution MCP server: stateful Python and shell in a bubblewrap sandbox."""
