"""Memento's MCP tool servers: one package per server, plus `common`.

Nothing here but one import-time guard, which must run before any server module imports httpx.
"""

from memento.core.imports import skip_httpx_cli

skip_httpx_cli()  # a server answers tools/list that much sooner
