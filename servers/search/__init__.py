"""The search MCP server: many web search engines behind one tool, plus an offline local index."""
