"""The built-in providers: Anthropic, and OpenAI or any OpenAI-compatible endpoint.

Each knows its settings (key, base URL, the variables a message names) and makes
its SDK-backed model; the SDK is imported only when a model is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._vendor import Endpoint
from .provider import Provider

if TYPE_CHECKING:
    from memento.agent.settings import AgentSettings

    from .base import Model

__all__ = ["ANTHROPIC", "BUILT_IN", "OPENAI", "AnthropicProvider", "OpenAIProvider"]

# Local servers (Ollama, llama.cpp, vLLM) take no key, but the SDK insists on one.
PLACEHOLDER_KEY = "no-key"


class AnthropicProvider(Provider):
    prefix = "anthropic"
    example = "claude-sonnet-4-5"

    def __init__(self) -> None:
        # Where a model goes when no base URL is set. Passed explicitly so the SDK never picks one from the
        # environment on its own; the test suite points it at a closed loopback port.
        self.default_url = "https://api.anthropic.com"

    def problem(self, settings: AgentSettings) -> str | None:
        if settings.anthropic_api_key:
            return None
        return (
            "No Anthropic API key: set ANTHROPIC_API_KEY (or MEMENTO_ANTHROPIC_API_KEY), or choose another model with --planner/--executor."
        )

    def make(self, model: str, settings: AgentSettings, *, context_tokens: int) -> Model:
        from .anthropic_model import AnthropicModel

        endpoint = Endpoint(
            "Anthropic",
            settings.anthropic_api_key,
            settings.anthropic_base_url or self.default_url,
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
        )
        return AnthropicModel(model, settings, endpoint, context_tokens=context_tokens)


class OpenAIProvider(Provider):
    prefix = "openai"
    example = "gpt-4.1"

    def __init__(self) -> None:
        self.default_url = "https://api.openai.com/v1"  # as for Anthropic: explicit, and pointed elsewhere by the tests

    def problem(self, settings: AgentSettings) -> str | None:
        if settings.openai_api_key or settings.openai_base_url:
            return None
        return (
            "No OpenAI key or endpoint: set OPENAI_API_KEY (or MEMENTO_OPENAI_API_KEY), or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server (vLLM, Ollama, llama.cpp), or choose another model with --planner/--executor."
        )

    def make(self, model: str, settings: AgentSettings, *, context_tokens: int) -> Model:
        from .openai_model import OpenAIModel

        endpoint = Endpoint(
            "the OpenAI-compatible endpoint",
            settings.openai_api_key or PLACEHOLDER_KEY,
            settings.openai_base_url or self.default_url,
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
        )
        return OpenAIModel(model, settings, endpoint, context_tokens=context_tokens)


ANTHROPIC = AnthropicProvider()
OPENAI = OpenAIProvider()
BUILT_IN: tuple[Provider, ...] = (ANTHROPIC, OPENAI)
