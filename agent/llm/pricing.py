"""What a model call cost, in US dollars, from a table of list prices per million tokens.

Models are matched by the longest name prefix in `PRICES`; a model missing from
the table is priced with the caller's fallback (the settings' price_input/output_per_mtok).
The figures are list prices at the time of writing; budgets use them, invoices do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Usage

__all__ = ["PRICES", "Price", "cost", "price_of"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens: fresh input, output, input read from the cache, input written to it."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    @classmethod
    def flat(cls, input: float, output: float) -> Price:
        """A price known only by its input and output rates: cached input costs as much as fresh input.

        An overestimate for vendors that discount cache reads, which is the safe side for a budget.
        """
        return cls(input, output, input, input)


def _claude(input: float, output: float) -> Price:
    # Anthropic: a cache write costs 1.25× input (5-minute cache), a cache read 0.1×.
    return Price(input, output, round(input * 0.1, 4), round(input * 1.25, 4))


def _openai(input: float, output: float, cached: float) -> Price:
    # OpenAI caches automatically: writes cost nothing extra, reads are discounted.
    return Price(input, output, cached, 0.0)


# Prefix → price; the longest matching prefix wins, so dated snapshots
# (claude-sonnet-4-5-20250929, gpt-4o-2024-08-06) find their family.
PRICES: dict[str, Price] = {
    # Anthropic
    "claude-opus-4-0": _claude(15.0, 75.0),
    "claude-opus-4-1": _claude(15.0, 75.0),
    "claude-opus-4-20250514": _claude(15.0, 75.0),
    "claude-opus-4": _claude(5.0, 25.0),  # 4.5 and later
    "claude-sonnet-4": _claude(3.0, 15.0),
    "claude-haiku-4": _claude(1.0, 5.0),
    "claude-3-7-sonnet": _claude(3.0, 15.0),
    "claude-3-5-sonnet": _claude(3.0, 15.0),
    "claude-3-5-haiku": _claude(0.8, 4.0),
    "claude-3-opus": _claude(15.0, 75.0),
    "claude-3-haiku": _claude(0.25, 1.25),
    # OpenAI
    "gpt-4.1": _openai(2.0, 8.0, 0.5),
    "gpt-4.1-mini": _openai(0.4, 1.6, 0.1),
    "gpt-4.1-nano": _openai(0.1, 0.4, 0.025),
    "gpt-4o": _openai(2.5, 10.0, 1.25),
    "gpt-4o-mini": _openai(0.15, 0.6, 0.075),
    "gpt-5": _openai(1.25, 10.0, 0.125),
    "gpt-5-mini": _openai(0.25, 2.0, 0.025),
    "gpt-5-nano": _openai(0.05, 0.4, 0.005),
    "o1": _openai(15.0, 60.0, 7.5),
    "o1-mini": _openai(1.1, 4.4, 0.55),
    "o3": _openai(2.0, 8.0, 0.5),
    "o3-mini": _openai(1.1, 4.4, 0.55),
    "o4-mini": _openai(1.1, 4.4, 0.275),
}


def price_of(model: str) -> Price | None:
    """The table's price of `model` (`provider:model` or a bare name), or None when it is not listed."""
    name = model.split(":", 1)[1] if ":" in model else model
    name = name.strip().lower()
    best = ""
    for prefix in PRICES:
        # A prefix matches whole name segments only: "o3" prices "o3-2025-04-16", never "o3x".
        if name.startswith(prefix) and len(prefix) > len(best) and (len(name) == len(prefix) or not name[len(prefix)].isalnum()):
            best = prefix
    return PRICES[best] if best else None


def cost(model: str, usage: Usage, fallback: Price | None = None) -> float:
    """USD of `usage` on `model`; a model missing from the table uses `fallback` (none: free)."""
    price = price_of(model) or fallback
    if price is None:
        return 0.0
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / 1_000_000
