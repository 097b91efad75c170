"""One-line `ModelFailed` messages for a vendor call that failed for good, shared by the providers.

Each provider catches its own SDK's errors and hands the facts here; the message
names the status and the vendor's own words and says what to do next. Keys are
scrubbed from anything the vendor echoed back.
"""

from __future__ import annotations

from typing import Any

from memento.core.errors import ModelFailed
from memento.core.secrets import scrub_text

__all__ = ["connection_failed", "scrub", "status_failed", "timed_out"]

_LONGEST_DETAIL = 300


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with the provider's own keys and anything credential-shaped masked, whitespace folded, cut to a readable length."""
    text = " ".join(scrub_text(text, secrets).split())
    return text if len(text) <= _LONGEST_DETAIL else text[: _LONGEST_DETAIL - 1] + "…"


def _capitalised(vendor: str) -> str:
    # "the OpenAI-compatible endpoint" starts a sentence as "The OpenAI-compatible endpoint".
    return vendor[:1].upper() + vendor[1:]


def _retries(n: int) -> str:
    return "1 retry" if n == 1 else f"{n} retries"


def _vendor_words(body: Any) -> tuple[str, str]:
    """(error type, message) from an error body shaped `{"error": {"type", "message"}}` (both vendors use it)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("type") or error.get("code") or ""), str(error.get("message") or "")
    if isinstance(error, str):
        return "", error
    return "", "" if body is None else str(body)


def status_failed(
    vendor: str, model: str, status: int, body: Any, *, retries: int, key_variable: str, secrets: tuple[str, ...]
) -> ModelFailed:
    """A refused or failed HTTP call: the status, the vendor's words, and the next step."""
    kind, words = _vendor_words(body)
    said = scrub(f"{kind}: {words}" if kind and words else kind or words or "no details", secrets)
    if status in (401, 403):
        hint = f"check {key_variable}"
    elif status == 429 or status >= 500:
        hint = f"gave up after {_retries(retries)}; try again later, raise MEMENTO_MODEL_RETRIES, or choose another model"
    elif status == 404:
        hint = f"check the model name {model!r} and the base URL"
    else:
        hint = "the request was refused as sent"
    return ModelFailed(f"{_capitalised(vendor)} answered {status} for {model} ({said}); {hint}.")


def connection_failed(vendor: str, model: str, detail: str, *, retries: int, url_variable: str, secrets: tuple[str, ...]) -> ModelFailed:
    return ModelFailed(
        f"Could not reach {vendor} for {model} after {_retries(retries)} ({scrub(detail, secrets)}); check the network or {url_variable}."
    )


def timed_out(vendor: str, model: str, timeout_s: float, *, retries: int) -> ModelFailed:
    return ModelFailed(
        f"{_capitalised(vendor)} did not answer for {model} within {timeout_s:g} s (after {_retries(retries)}); "
        "raise MEMENTO_MODEL_TIMEOUT_S or try again later."
    )
