"""EPUB books through ebooklib: one section per chapter in reading (spine) order.

The package's description, subjects and publisher go into the facts and into
a short header before the first chapter.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from memento.core.errors import ConversionFailed

from ..model import Document, Section
from .archives import open_archive
from .base import Blob, ConvertOptions
from .markup import html_to_markdown

FORMATS = ("epub",)


def convert(blob: Blob, options: ConvertOptions) -> Document:
    open_archive(blob.data, options, blob.name or "the book").close()  # zip-bomb guard first
    from ebooklib import ITEM_DOCUMENT, epub

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(io.BytesIO(blob.data), options={"ignore_ncx": True})
    except Exception as exc:
        raise ConversionFailed(f"This EPUB book is damaged and could not be opened ({exc}).") from exc
    metadata: dict[str, Any] = {}
    for key, field in (
        ("title", "title"),
        ("author", "creator"),
        ("language", "language"),
        ("date", "date"),
        ("publisher", "publisher"),
        ("description", "description"),
    ):
        values = book.get_metadata("DC", field)
        if values and str(values[0][0] or "").strip():
            metadata[key] = str(values[0][0]).strip()
    if "description" in metadata:  # often HTML in the package file; a model reads it as text
        metadata["description"] = html_to_markdown(metadata["description"])[:_DESCRIPTION_CHARS]
    subjects = [str(value).strip() for value, _ in book.get_metadata("DC", "subject") if str(value or "").strip()]
    if subjects:
        metadata["subjects"] = subjects[:_MAX_SUBJECTS]
    items = [book.get_item_with_id(ref) for ref, _ in book.spine]
    chapters = [
        item
        for item in items
        if item is not None
        and item.get_type() == ITEM_DOCUMENT
        and not isinstance(item, epub.EpubNav)  # the table of contents page, not a chapter
        and "nav" not in (getattr(item, "properties", None) or [])
    ]
    metadata["chapters"] = len(chapters)
    if options.metadata_only:
        return Document("epub", [], metadata)
    sections = []
    for number, item in enumerate(chapters, start=1):
        markdown = html_to_markdown(item.get_content().decode("utf-8", errors="replace"))
        first = next((line.lstrip("# ").strip() for line in markdown.splitlines() if line.strip()), "")
        sections.append(Section(markdown, "chapter", number, first[:80]))
    return Document("epub", sections, metadata, preface=_preface(metadata))


_DESCRIPTION_CHARS = 4000
_MAX_SUBJECTS = 50


def _preface(metadata: dict[str, Any]) -> str:
    """The book's header: title, author, and the description and subjects its package declares."""
    lines = [f"# {metadata['title']}"] if metadata.get("title") else []
    facts = [
        f"{label}: {metadata[key]}"
        for key, label in (("author", "Author"), ("publisher", "Publisher"), ("date", "Date"))
        if metadata.get(key)
    ]
    if metadata.get("subjects"):
        facts.append(f"Subjects: {'; '.join(metadata['subjects'])}")
    lines += [f"- {fact}" for fact in facts]
    if metadata.get("description"):
        lines.append(f"\n## Description\n\n{metadata['description']}")
    return "\n".join(lines)
