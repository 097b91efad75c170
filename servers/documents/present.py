"""The documents tools' replies: the text a model reads and the typed result as structured content.

A read names the document, its format and size before the window of text; a
search lists the passages with where each was found. Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from memento.convert.model import Picture
from memento.servers.common.errors import shown
from memento.servers.common.paging import Page
from memento.servers.common.tooling import Image, tool_result

from .service import DocumentFacts, DocumentPassages, DocumentText, Rendered, WorkbookCells

__all__ = [
    "CellInfo",
    "CellsResult",
    "DocumentInfo",
    "DocumentSearchResult",
    "PassageMatch",
    "ReadResult",
    "RenderResult",
    "cells",
    "info",
    "read",
    "render",
    "search",
]


class ReadResult(BaseModel):
    """read_document's structured result: the document and one window of its Markdown."""

    source: str = Field(description="Where the document came from.")
    format: str = Field(description="Detected format, e.g. pdf, docx, xlsx, html.")
    page: Page
    metadata: dict[str, Any] = Field(description="Title, author, dates, page counts… when known.")
    images: int = Field(default=0, description="How many images this reply carries as image content, after the text.")


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
    result = ReadResult(
        source=found.opened.origin, format=document.format, page=page, metadata=document.metadata, images=len(found.pictures)
    )
    text = f"{header}\n\n{page.render()}"
    if found.pictures_left_out:
        sent = len(found.pictures)
        text += (
            f"\n\n[{len(found.pictures_left_out)} more image(s) in this part were not sent: one reply carries at most {sent} "
            "(MEMENTO_DOCUMENTS_IMAGES_PER_REPLY). Read a smaller part (max_length or pages) to see them.]"
        )
    return tool_result(text, result, pictures_as_images(found.pictures))


def pictures_as_images(pictures: Sequence[Picture]) -> list[Image]:
    """A document's pictures as the image content of a reply."""
    return [Image.from_bytes(p.data, p.mime_type) for p in pictures]


class RenderResult(BaseModel):
    """render_pages' structured result; the pictures follow the text as image content, in this order."""

    source: str
    format: str
    kind: str = Field(description="What was drawn: page or slide.")
    count: int = Field(description="Pages or slides in the document.")
    drawn: list[int] = Field(description="The numbers drawn, in the order of the images.")
    not_drawn: list[int] = Field(description="Numbers selected but over the per-call limit; ask for them next.")


def render(found: Rendered) -> CallToolResult:
    """A render_pages reply: one line per picture, a word on how slides are drawn, and the pictures themselves."""
    kinds = f"{found.kind}s" if found.count != 1 else found.kind
    lines = [f"[{found.name} · {found.format} · {found.count} {kinds} · {len(found.pictures)} drawn]", ""]
    lines += [p.marker for p in found.pictures]
    if found.format == "pptx":
        lines.append(
            "\nSlides are drawn by a simple renderer of the server's own: positions, text, filled shapes, pictures, "
            "tables and chart bars, not the deck's theme, effects or exact fonts. read_document gives the exact text and chart data."
        )
    if found.left_out:
        rest = found.left_out
        lines.append(
            f"\n[{len(rest)} more selected {found.kind}(s) not drawn: one call draws at most {len(found.numbers)} "
            f'(MEMENTO_DOCUMENTS_RENDER_MAX_PAGES). Call again with pages="{_span(rest)}".]'
        )
    result = RenderResult(
        source=found.origin, format=found.format, kind=found.kind, count=found.count, drawn=found.numbers, not_drawn=found.left_out
    )
    return tool_result("\n".join(lines), result, pictures_as_images(found.pictures))


def _span(numbers: list[int]) -> str:
    return f"{numbers[0]}-{numbers[-1]}" if numbers == list(range(numbers[0], numbers[-1] + 1)) else ",".join(map(str, numbers))


class CellInfo(BaseModel):
    """One cell as read_cells describes it; unset facts are null or false."""

    ref: str
    value: Any = None
    formula: str | None = None
    number_format: str | None = None
    font_colour: str | None = Field(default=None, description='"#RRGGBB (name)"; null for the default black.')
    fill_colour: str | None = Field(default=None, description='"#RRGGBB (name)"; null when the cell is not filled.')
    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False
    merged: str | None = Field(default=None, description="The merged range the cell belongs to.")
    comment: str | None = None
    hyperlink: str | None = None


class CellsResult(BaseModel):
    """read_cells' structured result."""

    source: str
    sheet: str
    sheet_names: list[str]
    range: str = Field(description="The range described in this reply.")
    cells: list[CellInfo] = Field(description="Cells with a value or formatting, row by row; plain empty cells are left out.")
    blank_cells: int
    merged_ranges: list[str]
    conditional_formatting: list[str] = Field(description="Rules that colour cells by their values; not evaluated here.")
    next_range: str | None = Field(description="Rows over the cell limit: pass this as range to read on; null when all shown.")


def cells(found: WorkbookCells) -> CallToolResult:
    """A read_cells reply: one line per cell, only the facts it has, then merges, rules and how to read on."""
    report = found.report
    lines = [f"[{found.name} · sheet {report.sheet!r} of {', '.join(repr(n) for n in report.sheet_names)} · {report.range}]", ""]
    lines += [f"> Note: {note}" for note in report.notes]
    for cell in report.cells:
        facts = [f"{cell.ref}: {cell.value!r}" if cell.value is not None else f"{cell.ref}: (empty)"]
        facts += [f"formula {cell.formula}"] if cell.formula else []
        facts += [f"format {cell.number_format}"] if cell.number_format else []
        facts += [f"fill {cell.fill_colour}"] if cell.fill_colour else []
        facts += [f"font {cell.font_colour}"] if cell.font_colour else []
        style = [
            word
            for word, on in (("bold", cell.bold), ("italic", cell.italic), ("underline", cell.underline), ("strike", cell.strike))
            if on
        ]
        facts += [" ".join(style)] if style else []
        facts += [f"merged {cell.merged}"] if cell.merged else []
        facts += [f"comment {cell.comment!r}"] if cell.comment else []
        facts += [f"link {cell.hyperlink}"] if cell.hyperlink else []
        lines.append("- " + " · ".join(facts))
    if not report.cells:
        lines.append("(no cell in this range has a value or formatting)")
    if report.blank:
        lines.append(f"\n{report.blank} empty unformatted cell(s) left out.")
    if report.merged:
        lines.append(f"Merged ranges on the sheet: {', '.join(report.merged)}")
    if report.conditional:
        lines.append("Conditional formatting (colours set by rules when Excel shows the sheet; not evaluated here):")
        lines += [f"- {rule}" for rule in report.conditional]
    if report.next_range:
        lines.append(f'\n[more rows over MEMENTO_DOCUMENTS_MAX_CELLS: call again with range="{report.next_range}".]')
    result = CellsResult(
        source=found.origin,
        sheet=report.sheet,
        sheet_names=report.sheet_names,
        range=report.range,
        cells=[CellInfo(**vars(cell)) for cell in report.cells],
        blank_cells=report.blank,
        merged_ranges=report.merged,
        conditional_formatting=report.conditional,
        next_range=report.next_range,
    )
    return tool_result("\n".join(lines), result)


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
