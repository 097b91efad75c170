"""The shape of a model provider: the `provider:` prefix it answers to, its configuration check, its models.

The registry holds `Provider` objects and asks them; adding a vendor is one
subclass registered once. Nothing here imports a provider module or a vendor SDK.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memento.agent.settings import AgentSettings

    from .base import Model

__all__ = ["Provider"]


class Provider(ABC):
    """A source of models named `prefix:model`, e.g. `anthropic:claude-sonnet-4-5`."""

    prefix: str
    example: str  # a model name to show in messages, e.g. claude-sonnet-4-5

    @abstractmethod
    def problem(self, settings: AgentSettings) -> str | None:
        """Why this provider's models cannot be called with `settings`, in one line naming what to set (None: they can)."""

    def problem_for(self, model: str, settings: AgentSettings) -> str | None:
        """As `problem`, for one model of this provider (a local model checks that its weights are there)."""
        return self.problem(settings)

    @abstractmethod
    def make(self, model: str, settings: AgentSettings, *, context_tokens: int) -> Model:
        """The model `model` of this provider, ready to call; any SDK is imported here, not before."""
