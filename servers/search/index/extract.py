"""Worker side of indexing: one file or download → its format, title, date and text sections.

Runs inside a conversion worker (bounded in time and memory), so a corrupt or
hostile file costs one worker, not the build. Conversion is the documents
server's, from `memento.convert`: `detect_format` and `formats.convert`, with OCR off
(slow, and images rarely carry searchable prose). Returns plain data, cheap to
pickle back to the builder.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from memento.convert.detect import detect_format, zip_member_names
from memento.convert.formats import Blob, ConvertOptions, convert

__all__ = ["NOT_INDEXED", "extract_bytes", "extract_file"]

# Formats whose converted text is not worth searching: images (metadata only without OCR),
# archive listings, legacy Office files and unknown binaries.
NOT_INDEXED = {"image": "an image", "zip": "an archive", "ole": "a legacy Office file", "binary": "not a document"}
_HEADING = re.compile(r"^#\s+(.+)$", re.MULTILINE)
_OPTIONS = ConvertOptions(ocr=False)


def extract_file(path: str, max_bytes: int, max_chars: int, known_sha256: str | None = None) -> dict[str, Any]:
    size = os.path.getsize(path)
    if size > max_bytes:
        return {"status": "skipped", "reason": f"{size:,} bytes, over the {max_bytes:,}-byte limit (MEMENTO_SEARCH_INDEX_MAX_BYTES)"}
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    digest = hashlib.sha256(data).hexdigest()
    if digest == known_sha256:
        return {"status": "same", "sha256": digest}  # touched, not changed: no need to convert again
    return extract_bytes(data, os.path.basename(path), max_chars, digest)


def extract_bytes(data: bytes, name: str, max_chars: int, digest: str | None = None) -> dict[str, Any]:
    head = data[:8192]
    fmt = detect_format(head, name, zip_member_names(data) if head.startswith(b"PK") else None)
    if fmt in NOT_INDEXED:
        return {"status": "skipped", "reason": NOT_INDEXED[fmt], "format": fmt}
    document = convert(Blob(data, name, fmt), _OPTIONS)
    sections: list[tuple[str, str]] = []
    budget = max_chars
    truncated = False
    for section in document.sections:
        text = section.text.strip()
        if not text:
            continue
        if budget <= 0 or len(text) > budget:
            truncated = True
            if budget <= 0:
                break
        sections.append((section.location, text[:budget]))
        budget -= len(text)
    metadata = document.metadata
    title = _title(metadata.get("title"), sections, name, fmt)
    date = metadata.get("modified") or metadata.get("created") or metadata.get("date")
    return {
        "status": "ok" if sections else "skipped",
        "reason": "" if sections else "no text (a scanned document needs OCR first)",
        "format": fmt,
        "title": title,
        "date": str(date) if date else None,
        "sections": sections,
        "truncated": truncated,
        "sha256": digest or hashlib.sha256(data).hexdigest(),
    }


def _title(value: Any, sections: list[tuple[str, str]], name: str, fmt: str) -> str:
    """The document's own title, else its first top-level heading, else (for prose) a short first line, else the file name."""
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())[:300]
    if sections:
        start = sections[0][1][:4000]
        heading = _HEADING.search(start)
        if heading:
            return heading.group(1).strip()[:300]
        first = start.strip().split("\n", 1)[0].strip()
        if fmt in ("text", "markdown") and 0 < len(first) <= 100:
            return first
    return name
