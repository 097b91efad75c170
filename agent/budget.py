"""What a run may spend, and how much it has: cycles, steps, tool calls, tokens, seconds, dollars.

The episode asks `exhausted()` before every model or tool call; the first
budget found spent ends the run with the best answer so far, and its name is
reported (`stopped_by`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from memento.core.errors import AgentError

from .llm import Usage
from .settings import Budgets

__all__ = ["BudgetExhausted", "Spending"]


class BudgetExhausted(AgentError):
    """Internal signal: a budget is spent. `name` is the budget (cycles, steps, tool_calls, tokens, seconds, cost)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class Spending:
    """A run's spending against its budgets."""

    budgets: Budgets
    started: float = field(default_factory=time.monotonic)
    usage: Usage = field(default_factory=Usage)
    tool_calls: int = 0

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def add(self, usage: Usage) -> None:
        self.usage = self.usage + usage

    def exhausted(self) -> str | None:
        """The first budget spent, or None. Cycles and steps are counted by their loops."""
        b = self.budgets
        if self.usage.total_tokens >= b.budget_tokens:
            return "tokens"
        if b.budget_cost_usd and self.usage.cost_usd >= b.budget_cost_usd:
            return "cost"
        if self.seconds >= b.budget_seconds:
            return "seconds"
        if self.tool_calls >= b.budget_tool_calls:
            return "tool_calls"
        return None

    def check(self) -> None:
        """Raise `BudgetExhausted` when a budget is spent."""
        name = self.exhausted()
        if name:
            raise BudgetExhausted(name)
