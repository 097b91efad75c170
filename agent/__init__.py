"""Memento's client side: LLM providers, the MCP tool hub, planner, executor, the episode loop and its events, traces, evals, the web UI and the `memento` CLI."""

from memento.core.imports import skip_httpx_cli

skip_httpx_cli()  # before the model clients import httpx: `memento run` reaches its first request that much sooner
