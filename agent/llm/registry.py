"""From a `provider:model` string to a ready `Model`, and the one-line check that it can be used.

`check_configured` runs before anything starts, so a missing key is one clear
line naming the variable, not a stack trace from deep in an episode. Vendor
SDKs are imported only when their model is made.
"""

from __future__ import annotations

from memento.agent.settings import AgentSettings
from memento.core.errors import ModelNotConfigured

from .base import Model

__all__ = ["CONTEXT_WINDOWS", "PROVIDERS", "VENDOR_URLS", "check_configured", "context_window", "make_model", "parse_spec"]

PROVIDERS = ("anthropic", "openai")
# Where a provider goes when no base URL is set. Passed explicitly so the SDKs never pick one from the
# environment on their own; the test suite points these at a closed loopback port.
VENDOR_URLS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}
DEFAULT_CONTEXT = 128_000

# Name prefix → context window in tokens; the longest matching prefix wins.
CONTEXT_WINDOWS = {
    "claude": 200_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
}


def parse_spec(spec: str) -> tuple[str, str]:
    """`provider:model` → (provider, model); a bare model name means Anthropic."""
    provider, sep, model = spec.strip().partition(":")
    if not sep:
        provider, model = "anthropic", provider
    provider, model = provider.strip().lower(), model.strip()
    if provider not in PROVIDERS:
        raise ModelNotConfigured(
            f"Unknown model provider {provider!r} in {spec!r}: choose one of {', '.join(PROVIDERS)} (e.g. anthropic:claude-sonnet-4-5)."
        )
    if not model:
        raise ModelNotConfigured(
            f"No model name in {spec!r}: write provider:model, e.g. {provider}:{'claude-sonnet-4-5' if provider == 'anthropic' else 'gpt-4.1'}."
        )
    return provider, model


def context_window(model: str, settings: AgentSettings) -> int:
    """The context window to plan compaction for: the setting when given, else the table's, else 128000."""
    if settings.context_tokens:
        return settings.context_tokens
    name = model.lower()
    best = max((p for p in CONTEXT_WINDOWS if name.startswith(p)), key=len, default="")
    return CONTEXT_WINDOWS[best] if best else DEFAULT_CONTEXT


def check_configured(spec: str, settings: AgentSettings) -> None:
    """Raise `ModelNotConfigured`, one line naming the variable to set, when `spec` cannot be called."""
    provider, _ = parse_spec(spec)
    if provider == "anthropic" and not settings.anthropic_api_key:
        raise ModelNotConfigured(
            "No Anthropic API key: set ANTHROPIC_API_KEY (or MEMENTO_ANTHROPIC_API_KEY), or choose another model with --planner/--executor."
        )
    if provider == "openai" and not (settings.openai_api_key or settings.openai_base_url):
        raise ModelNotConfigured(
            "No OpenAI key or endpoint: set OPENAI_API_KEY (or MEMENTO_OPENAI_API_KEY), or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server (vLLM, Ollama, llama.cpp), or choose another model with --planner/--executor."
        )


def make_model(spec: str, settings: AgentSettings) -> Model:
    """The model named by `spec` (`anthropic:claude-sonnet-4-5`, `openai:gpt-4.1`, or a bare Claude name)."""
    check_configured(spec, settings)
    provider, model = parse_spec(spec)
    window = context_window(model, settings)
    if provider == "openai":
        from .openai_model import OpenAIModel

        return OpenAIModel(model, settings, context_tokens=window)
    from .anthropic_model import AnthropicModel

    return AnthropicModel(model, settings, context_tokens=window)
