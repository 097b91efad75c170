"""Memento's MCP tool servers: one package per server, plus `common`."""
