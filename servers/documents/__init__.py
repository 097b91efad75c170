"""The documents MCP server: any common document format to Markdown, bounded and cached."""
