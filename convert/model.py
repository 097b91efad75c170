"""What a converter produces: a document as located sections of Markdown, plus its facts.

A section is a page, slide, sheet or chapter (or the whole text, for formats
without parts). Keeping them apart lets `pages="3-5"` select parts and lets
search name where a passage was found; `markdown()` joins them with markers.
A section may carry pictures for a model's eyes; its text holds each one's
marker, so a reply returns the pictures whose markers fall in its window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Picture:
    """An image a reply can carry as MCP image content, already downscaled and encoded (PNG or JPEG)."""

    data: bytes
    mime_type: str
    marker: str  # the line in the section's text that stands for it, e.g. "<!-- image 1: photo.jpg -->"


@dataclass
class Section:
    text: str
    kind: str = ""  # "page", "slide", "sheet", "chapter", or "" for an undivided text
    number: int | None = None  # 1-based position among sections of this kind
    label: str = ""  # e.g. a sheet's or chapter's name
    pictures: list[Picture] = field(default_factory=list)  # each one's marker is in `text`
    start_s: float | None = None  # a recording's segment: where it starts and ends, in seconds
    end_s: float | None = None

    @property
    def location(self) -> str:
        if not self.kind:
            return "text"
        where = f"{self.kind} {self.number}"
        return f"{where} ({self.label})" if self.label else where


@dataclass
class Document:
    format: str  # detected format, e.g. "pdf", "docx", "csv"
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)  # title, author, dates, counts…
    notes: list[str] = field(default_factory=list)  # what the reader should know: cuts, missing OCR…
    preface: str = ""  # shown before the sections, e.g. a book's description and subjects

    @property
    def part_kind(self) -> str:
        kinds = {s.kind for s in self.sections if s.kind}
        return kinds.pop() if len(kinds) == 1 else ""

    def select(self, numbers: list[int] | None) -> list[Section]:
        if numbers is None:
            return self.sections
        wanted = set(numbers)
        return [s for s in self.sections if s.number in wanted]

    def markdown(self, numbers: list[int] | None = None) -> str:
        sections = self.select(numbers)
        total = len(self.sections)
        parts: list[str] = []
        if self.notes:
            parts.append("\n".join(f"> Note: {n}" for n in self.notes))
        if self.preface:
            parts.append(self.preface)
        for section in sections:
            if section.kind in ("page", "slide"):
                parts.append(f"<!-- {section.kind} {section.number} of {total} -->\n{section.text}".rstrip())
            elif section.kind == "chapter":
                title = f": {section.label}" if section.label else ""
                parts.append(f"<!-- chapter {section.number}{title} -->\n{section.text}".rstrip())
            else:
                parts.append(section.text.rstrip())
        return "\n\n".join(p for p in parts if p) + "\n"

    def pictures_in(self, text: str) -> list[Picture]:
        """The pictures whose markers appear in `text` (one window of `markdown()`), in document order."""
        return [p for section in self.sections for p in section.pictures if p.marker in text]
