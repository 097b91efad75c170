"""The research MCP server: the Memento agent as one tool, `deep_research`."""
