"""The one secret scrubber: credentials are masked before text or data reaches a trace, a log line or an error message.

It recognises credentials by their shape (vendor key formats, bearer tokens, `key=value` secrets, URLs
carrying credentials) and by value (the keys a caller knows it holds). It never raises and imports no Memento package.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "SecretsFilter", "is_secret_name", "scrub", "scrub_text"]

MASK = "***"

# A key that names a secret. `token` alone or as a prefix/suffix (access_token, token_url) is one;
# `tokens` is a count (max_tokens, input_tokens) and is not.
_SECRET_NAME = re.compile(r"api[_-]?key|apikey|authorization|secret|passw(?:or)?d|token(?!s)", re.IGNORECASE)

# Values that are credentials whatever surrounds them: vendor key formats and bearer tokens.
_VENDOR_KEY = re.compile(
    r"\b(?:sk-ant-[A-Za-z0-9_-]{8,}|sk-(?:proj-)?[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|hf_[A-Za-z0-9]{30,})"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*"
)

# `user:password@` in a URL: the whole user information goes, the host stays (it says where the call went).
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://)[^\s/@:]{1,200}:[^\s/@]{1,200}@")

# A query parameter that carries a key or a signature, in a URL: `?key=…`, `&sig=…` (names too generic for free text).
_URL_KEY_PARAMETER = re.compile(r"(?i)([?&](?:key|sig|signature|auth)=)[^&#\s\"']+")

# `NAME=value` and `NAME: value` where NAME names a secret (ANTHROPIC_API_KEY=…, "password": "…", x-api-key: …).
# After `=` any value goes; after `:`, which prose uses too ("secret: the answer"), only a token-shaped one of 8+ characters.
# A match starts at the word naming the secret (what precedes it, ANTHROPIC_, stays as it is) and every repeat is
# bounded, so a long text is scanned in linear time: these run over tool output and log lines of any size.
_ASSIGNED = re.compile(
    r"(?i)((?:api[_-]?key|apikey|secret|passw(?:or)?d|token(?!s)|authorization)[\w-]{0,40}[\"']?\s*=\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s\"'&,;]+"
)
_ASSIGNED_COLON = re.compile(
    r"(?i)((?:api[_-]?key|apikey|secret|passw(?:or)?d|token(?!s)|authorization)[\w-]{0,40}[\"']?\s*:\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[A-Za-z0-9._~+/=-]{8,}"
)

# A value shorter than this is not taken as a known secret: replacing it would only mangle ordinary words.
_SHORTEST_SECRET = 8


def is_secret_name(name: str) -> bool:
    """Whether a setting, header or argument called `name` holds a secret (`api_key`, `Authorization`, `hf_token`)."""
    return bool(_SECRET_NAME.search(name))


def scrub_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every credential-shaped string, and every one of `secrets` (the values a caller holds), as `***`."""
    for secret in secrets:
        if secret and len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, MASK)
    text = _VENDOR_KEY.sub(MASK, text)
    text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _URL_KEY_PARAMETER.sub(lambda m: m.group(1) + MASK, text)
    text = _ASSIGNED.sub(lambda m: m.group(1) + MASK, text)
    return _ASSIGNED_COLON.sub(lambda m: m.group(1) + MASK, text)


def scrub(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """A copy of `value` where every dict entry whose key names a secret, at any depth, is `***`,
    and every string is `scrub_text`ed; the caller's own structure is left alone."""
    known = tuple(secrets)
    if isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and is_secret_name(k) else scrub(v, known) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, known) for v in value]
    if isinstance(value, str):
        return scrub_text(value, known)
    return value


class SecretsFilter(logging.Filter):
    """A logging filter that masks credentials in every record it passes, whoever logged it.

    Set on a handler, it sees the records of every library too (an HTTP client logging a URL with its key).
    The message is formatted here, once, so that a secret passed as an argument is masked as well.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return True
        record.msg = scrub_text(message, self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text, self._secrets)
        return True
