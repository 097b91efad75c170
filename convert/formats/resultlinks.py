"""Search-engine click-tracking links decoded to their targets, for result pages read as documents.

Bing (`/ck/a?…&u=a1<urlsafe base64>`), DuckDuckGo (`/l/?uddg=<url>`) and Google (`/url?q=<url>`)
wrap every result in a redirect through themselves; a model reading the page needs the target.
Only these shapes are touched, and only when they carry an absolute http(s) URL; it fetches nothing.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, urlsplit

__all__ = ["decode_result_link"]

_ENGINES = ("bing.", "duckduckgo.", "google.")


def decode_result_link(href: str) -> str:
    """The target of a result page's click-tracking link, or `href` unchanged when it is not one."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return href
    host = (parts.hostname or "").lower()
    if host and not any(engine in host for engine in _ENGINES):
        return href  # someone else's link: their own redirects are theirs to keep
    params = parse_qs(parts.query)
    path = parts.path.rstrip("/") or "/"
    target = ""
    if path == "/ck/a":
        target = _bing_target(params.get("u", [""])[0])
    elif path == "/l":
        target = params.get("uddg", [""])[0]
    elif path == "/url":
        target = params.get("q", params.get("url", [""]))[0]
    return target if _absolute_web_url(target) else href


def _bing_target(value: str) -> str:
    # "a1" marks a URL-safe base64 of the target, its padding dropped.
    if not value.startswith("a1"):
        return ""
    encoded = value[2:]
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def _absolute_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
