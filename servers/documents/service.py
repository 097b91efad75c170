"""The documents tools' work without MCP: one `DocumentReader` for the server's life, and what each tool finds.

`server.py` registers the tools and `present.py` phrases the replies; the
loading, converting and caching live in `reader.py` and the modules it uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memento.convert.formats.cells import CellsReport
from memento.convert.model import Picture
from memento.convert.passages import Passage
from memento.servers.common.paging import Page
from memento.servers.common.warmup import warm_later

from .reader import DocumentReader, Opened, Rendered
from .settings import DocumentsSettings

__all__ = ["DocumentFacts", "DocumentPassages", "DocumentService", "DocumentText", "Rendered", "WorkbookCells"]


@dataclass(frozen=True)
class DocumentText:
    """One window of a document's Markdown, with the pictures whose markers fall in it."""

    opened: Opened
    page: Page
    pictures: list[Picture] = field(default_factory=list)
    pictures_left_out: list[Picture] = field(default_factory=list)  # over MEMENTO_DOCUMENTS_IMAGES_PER_REPLY


@dataclass(frozen=True)
class DocumentFacts:
    """What is known about a document without reading its text: format, size, parts, title, dates…"""

    opened: Opened
    facts: dict[str, Any]


@dataclass(frozen=True)
class DocumentPassages:
    """The passages of a document most relevant to a query, best first."""

    opened: Opened
    query: str
    passages: list[Passage]


@dataclass(frozen=True)
class WorkbookCells:
    """Cells of one workbook range, with their formatting."""

    name: str
    origin: str
    report: CellsReport


class DocumentService:
    """The server's document reader (worker pool and cache) and the three things the tools ask of it."""

    def __init__(self, reader: DocumentReader) -> None:
        self.reader = reader

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: DocumentsSettings) -> AsyncIterator[DocumentService]:
        """The service for the server's lifetime; its workers are stopped on the way out."""
        reader = DocumentReader(settings)
        # One worker started ahead so the first conversion does not wait for it, once the tools are listed.
        warmup = warm_later(reader.pool.warm, "warm-worker")
        try:
            yield cls(reader)
        finally:
            warmup.cancel()
            reader.close()

    def within(self, folder: Path) -> DocumentService:
        """The same service (workers, cache) for calls that may read local files in `folder` only."""
        return DocumentService(self.reader.within(folder))

    async def read(self, source: str, start_index: int, max_length: int, pages: str | None) -> DocumentText:
        """A window of the document's Markdown, of the selected pages, slides, sheets or chapters when given."""
        opened, page = await self.reader.read(source, start_index, max_length, pages)
        pictures = opened.document.pictures_in(page.content)
        most = self.reader.settings.documents_images_per_reply
        return DocumentText(opened, page, pictures[:most], pictures[most:])

    async def render(self, source: str, pages: str | None) -> Rendered:
        """The selected PDF pages or slides (the first when `pages` is None) drawn as pictures."""
        return await self.reader.render(source, pages)

    async def cells(self, source: str, sheet: str | None, cell_range: str | None) -> WorkbookCells:
        """A workbook range's cells with value, formula, number format, colours, font style, merges, comments and links."""
        name, origin, report = await self.reader.cells(source, sheet, cell_range)
        return WorkbookCells(name, origin, report)

    async def info(self, source: str) -> DocumentFacts:
        """The document's facts, read from its metadata only."""
        opened, facts = await self.reader.info(source)
        return DocumentFacts(opened, facts)

    async def search(self, source: str, query: str, top_k: int) -> DocumentPassages:
        """The `top_k` passages ranked by keyword relevance (BM25) to `query`."""
        opened, passages = await self.reader.search(source, query, top_k)
        return DocumentPassages(opened, query, passages)
