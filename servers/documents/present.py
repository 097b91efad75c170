"""The documents tools' replies: the text a model reads and the typed result as structured content.

A read names the document, its format and size before the window of text; a
search lists the passages with where each was found. Nothing here reads files.
"""

from __future__ import annotations

from typing import Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from memento.servers.common.errors import shown
from memento.servers.common.paging import Page
from memento.servers.common.tooling import tool_result

from .service import DocumentFacts, DocumentPassages, DocumentText

__all__ = ["DocumentInfo", "DocumentSearchResult", "PassageMatch", "ReadResult", "info", "read", "search"]


class ReadResult(BaseModel):
    """read_document's structured result: the document and one window of its Markdown."""

    source: str = Field(description="Where the document came from.")
    format: str = Field(description="Detected format, e.g. pdf, docx, xlsx, html.")
    page: Page
    metadata: dict[str, Any] = Field(description="Title, author, dates, page counts… when known.")


class DocumentInfo(BaseModel):
    """document_info's structured result."""

    facts: dict[str, Any] = Field(description="Format, size, parts, title, author, dates, encryption.")


class PassageMatch(BaseModel):
    """A passage search_document found, with where it is in the document."""

    location: str = Field(description="Where the passage is: 'page 12', 'slide 3', 'sheet 2 (Sales)', 'text'.")
    score: float
    text: str


class DocumentSearchResult(BaseModel):
    """search_document's structured result."""

    source: str
    passages: list[PassageMatch]


def read(found: DocumentText) -> CallToolResult:
    """A read_document reply: a line naming the document, then the window and its note on how to read on."""
    document, page = found.opened.document, found.page
    header = f"[{found.opened.name} · {document.format} · {_parts(document.metadata)}{page.total_length:,} characters]"
    result = ReadResult(source=found.opened.origin, format=document.format, page=page, metadata=document.metadata)
    return tool_result(f"{header}\n\n{page.render()}", result)


def info(found: DocumentFacts) -> CallToolResult:
    """A document_info reply: one line per fact."""
    lines = [f"- {key}: {_short(value)}" for key, value in found.facts.items()]
    return tool_result("\n".join(lines), DocumentInfo(facts=found.facts))


def search(found: DocumentPassages) -> CallToolResult:
    """A search_document reply: each passage under a heading naming its place and score."""
    matches = [PassageMatch(location=p.location, score=p.score, text=p.text) for p in found.passages]
    if matches:
        text = "\n\n".join(f"## {m.location} (score {m.score})\n{m.text}" for m in matches)
    else:
        text = f"No passage of {found.opened.name} matches {shown(found.query)!r}. Try other words or read the document."
    return tool_result(text, DocumentSearchResult(source=found.opened.origin, passages=matches))


def _parts(metadata: dict[str, Any]) -> str:
    for key in ("pages", "slides", "sheets", "chapters"):
        if key in metadata:
            return f"{metadata[key]} {key} · "
    return ""


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) < 300 else text[:299] + "…"
