"""The browse MCP server: web pages as Markdown, JavaScript rendering, interactive browsing."""
