"""Memento's client side: the CLI today; LLM providers, planner, executor and episode loop to come."""
