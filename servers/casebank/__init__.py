"""The casebank MCP server: experience memory for any MCP host."""
