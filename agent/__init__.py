"""Memento's client side: LLM providers, the MCP tool hub, planner, executor, the episode loop and its events, traces, evals, the web UI and the `memento` CLI."""
