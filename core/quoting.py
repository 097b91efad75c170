"""How a message quotes what a caller sent: whole when short, else its two ends and its length.

Error messages from every area quote inputs through `shown`, so a caller that
sends megabytes never gets them back. Pure text; no I/O.
"""

from __future__ import annotations

__all__ = ["shown"]


def shown(text: str, limit: int = 120) -> str:
    """`text` (a caller's input) for a message: as it is when short, else its two ends and its length."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"
