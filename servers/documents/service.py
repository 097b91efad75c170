"""The documents tools' work without MCP: one `DocumentReader` for the server's life, and what each tool finds.

`server.py` registers the tools and `present.py` phrases the replies; the
loading, converting and caching live in `reader.py` and the modules it uses.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from memento.servers.common.paging import Page

from .passages import Passage
from .reader import DocumentReader, Opened
from .settings import DocumentsSettings

__all__ = ["DocumentFacts", "DocumentPassages", "DocumentService", "DocumentText"]


@dataclass(frozen=True)
class DocumentText:
    """One window of a document's Markdown."""

    opened: Opened
    page: Page


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


class DocumentService:
    """The server's document reader (worker pool and cache) and the three things the tools ask of it."""

    def __init__(self, reader: DocumentReader) -> None:
        self.reader = reader

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: DocumentsSettings) -> AsyncIterator[DocumentService]:
        """The service for the server's lifetime; its workers are stopped on the way out."""
        reader = DocumentReader(settings)
        # Start one worker in the background so the first conversion does not wait for it.
        threading.Thread(target=reader.pool.warm, name="warm-worker", daemon=True).start()
        try:
            yield cls(reader)
        finally:
            reader.close()

    async def read(self, source: str, start_index: int, max_length: int, pages: str | None) -> DocumentText:
        """A window of the document's Markdown, of the selected pages, slides, sheets or chapters when given."""
        opened, page = await self.reader.read(source, start_index, max_length, pages)
        return DocumentText(opened, page)

    async def info(self, source: str) -> DocumentFacts:
        """The document's facts, read from its metadata only."""
        opened, facts = await self.reader.info(source)
        return DocumentFacts(opened, facts)

    async def search(self, source: str, query: str, top_k: int) -> DocumentPassages:
        """The `top_k` passages ranked by keyword relevance (BM25) to `query`."""
        opened, passages = await self.reader.search(source, query, top_k)
        return DocumentPassages(opened, query, passages)
