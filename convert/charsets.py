"""Bytes to text, whatever charset they really use: one decoder for web pages and documents.

BOM first, then valid UTF-8, then a charset the caller or the content declares
(a Content-Type header, an HTML <meta charset>), then detection with a bias to
Windows-1252. Standard library and charset-normalizer only, so conversion
workers can import it without the HTTP stack.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["decode_body"]


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _known(encoding: str | None) -> str | None:
    if not encoding:
        return None
    try:
        name = codecs.lookup(encoding.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1") else name  # as browsers do (WHATWG Encoding)


def decode_body(content: bytes, content_type: str = "") -> tuple[str, str]:
    """(text, encoding): BOM, else valid UTF-8, else the declared charset if it fits, else detection.

    Valid UTF-8 wins over a declared single-byte charset because a page labelled
    latin-1 that decodes as UTF-8 is, in practice, UTF-8 mislabelled.
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding, errors="replace"), encoding
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    header = re.search(r"charset\s*=\s*([^;\s]+)", content_type, re.IGNORECASE)
    meta = _META_CHARSET.search(content[:4096])
    for candidate in (header.group(1) if header else None, meta.group(1).decode("ascii", "ignore") if meta else None):
        declared = _known(candidate)
        if declared and declared not in ("utf-8", "ascii"):
            try:
                return content.decode(declared), declared
            except UnicodeDecodeError:
                continue
    from charset_normalizer import from_bytes

    matches = list(from_bytes(content[:200_000]))
    encoding = _known(matches[0].encoding if matches else None) or "cp1252"
    # Short texts fit many single-byte code pages about equally well; Windows-1252 is by far the most
    # common of them on the web, so it wins unless another fits clearly better.
    if any(m.encoding == "cp1252" and m.chaos <= matches[0].chaos + 0.1 for m in matches):
        encoding = "cp1252"
    return content.decode(encoding, errors="replace"), encoding
