"""From a `provider:model` string to a ready `Model`, and the one-line check that it can be used.

Providers are objects registered here by prefix (the built-in ones at import,
others through `register`). `check_configured` runs before anything starts, so a
missing key is one clear line naming the variable, not a stack trace from deep in
an episode. No vendor SDK is imported until its model is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memento.core.errors import ModelNotConfigured

from .provider import Provider
from .vendors import BUILT_IN

if TYPE_CHECKING:
    from memento.agent.settings import AgentSettings

    from .base import Model

__all__ = ["CONTEXT_WINDOWS", "check_configured", "context_window", "make_model", "parse_spec", "providers", "register"]

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

_PROVIDERS: dict[str, Provider] = {p.prefix: p for p in BUILT_IN}


def register(provider: Provider) -> None:
    """Make `provider:…` specs name `provider`'s models (a provider of the same prefix is replaced)."""
    _PROVIDERS[provider.prefix] = provider


def providers() -> list[Provider]:
    """The registered providers, built-in ones first."""
    return list(_PROVIDERS.values())


def parse_spec(spec: str) -> tuple[str, str]:
    """`provider:model` → (provider, model); a bare model name means Anthropic."""
    prefix, sep, model = spec.strip().partition(":")
    if not sep:
        prefix, model = "anthropic", prefix
    prefix, model = prefix.strip().lower(), model.strip()
    if prefix not in _PROVIDERS:
        raise ModelNotConfigured(
            f"Unknown model provider {prefix!r} in {spec!r}: choose one of {', '.join(_PROVIDERS)} (e.g. anthropic:claude-sonnet-4-5)."
        )
    if not model:
        raise ModelNotConfigured(f"No model name in {spec!r}: write provider:model, e.g. {prefix}:{_PROVIDERS[prefix].example}.")
    return prefix, model


def context_window(model: str, settings: AgentSettings) -> int:
    """The context window to plan compaction for: the setting when given, else the table's, else 128000."""
    if settings.context_tokens:
        return settings.context_tokens
    name = model.lower()
    best = max((p for p in CONTEXT_WINDOWS if name.startswith(p)), key=len, default="")
    return CONTEXT_WINDOWS[best] if best else DEFAULT_CONTEXT


def check_configured(spec: str, settings: AgentSettings) -> None:
    """Raise `ModelNotConfigured`, one line naming the variable to set, when `spec` cannot be called."""
    prefix, model = parse_spec(spec)
    problem = _PROVIDERS[prefix].problem_for(model, settings)
    if problem:
        raise ModelNotConfigured(problem)


def make_model(spec: str, settings: AgentSettings) -> Model:
    """The model named by `spec` (`anthropic:claude-sonnet-4-5`, `openai:gpt-4.1`, `local:qwen2.5-1.5b`, or a bare Claude name)."""
    check_configured(spec, settings)
    prefix, model = parse_spec(spec)
    return _PROVIDERS[prefix].make(model, settings, context_tokens=context_window(model, settings))
