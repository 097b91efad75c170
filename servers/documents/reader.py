"""The documents service without MCP: load a source, convert it (bounded, cached), select, paginate.

`DocumentReader` is what the tools call; tests and other packages can use it
directly. It owns the worker pool and the cache and must be closed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from memento.servers.common.errors import InvalidInput
from memento.servers.common.paging import Page, paginate

from .cache import DocumentCache
from .detect import detect_format, zip_member_names
from .formats import Blob, ConvertOptions
from .model import Document
from .passages import Passage, rank_passages
from .settings import DocumentsSettings
from .sources import Loaded, load_source
from .worker import WorkerPool

__all__ = ["DocumentReader", "Opened", "parse_pages"]

_CONVERT = "memento.servers.documents.formats:convert"
_PAGES = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)?\s*)?$")


@dataclass(frozen=True)
class Opened:
    loaded: Loaded
    document: Document
    cached: bool


class DocumentReader:
    def __init__(self, settings: DocumentsSettings) -> None:
        self.settings = settings
        self.options = ConvertOptions(
            max_rows=settings.documents_max_rows,
            ocr=settings.documents_ocr,
            tesseract_cmd=settings.tesseract_cmd,
            ocr_languages=settings.ocr_languages,
            zip_max_members=settings.documents_zip_max_members,
            zip_max_bytes=int(settings.documents_zip_max_bytes),
        )
        self.pool = WorkerPool(settings.documents_workers, int(settings.documents_memory_limit), settings.documents_timeout_s)
        self.cache = DocumentCache(int(settings.documents_cache_bytes))

    def close(self) -> None:
        self.pool.close()

    async def open(self, source: str, *, metadata_only: bool = False) -> Opened:
        loaded = await load_source(source, self.settings, self.options)
        head = loaded.data[:8192]
        zip_names = zip_member_names(loaded.data) if head.startswith(b"PK") else None
        fmt = detect_format(head, loaded.name, zip_names)
        options = replace(self.options, metadata_only=True) if metadata_only else self.options
        key = f"{hashlib.sha256(loaded.data).hexdigest()}:{fmt}:{hash(options)}"
        document = self.cache.get(key)
        if document is not None:
            return Opened(loaded, document, True)
        document = await self.pool.call(_CONVERT, Blob(loaded.data, loaded.name, fmt), options)
        self.cache.put(key, document)
        return Opened(loaded, document, False)

    async def read(self, source: str, start_index: int = 0, max_length: int = 20_000, pages: str | None = None) -> tuple[Opened, Page]:
        opened = await self.open(source)
        numbers = parse_pages(pages, opened.document) if pages else None
        text = opened.document.markdown(numbers)
        return opened, paginate(text, start_index, max_length)

    async def info(self, source: str) -> tuple[Opened, dict[str, Any]]:
        opened = await self.open(source, metadata_only=True)
        facts = {
            "format": opened.document.format,
            "size_bytes": len(opened.loaded.data),
            "name": opened.loaded.name,
            "origin": opened.loaded.origin,
            **({"content_type": opened.loaded.content_type} if opened.loaded.content_type else {}),
            **opened.document.metadata,
        }
        return opened, facts

    async def search(self, source: str, query: str, top_k: int = 5) -> tuple[Opened, list[Passage]]:
        if not query.strip():
            raise InvalidInput("query is empty: pass the words or question to look for.")
        if not 1 <= top_k <= 50:
            raise InvalidInput(f"top_k must be between 1 and 50, got {top_k}.")
        opened = await self.open(source)
        return opened, rank_passages(opened.document, query, top_k)


def parse_pages(spec: str, document: Document) -> list[int]:
    """`"3-5,9"` → [3, 4, 5, 9], checked against the document's pages, slides, sheets or chapters."""
    kind = document.part_kind
    count = len(document.sections)
    if not kind:
        raise InvalidInput(
            f"pages selects PDF pages, slides, sheets or chapters; this {document.format} document has no such parts. "
            "Leave pages out and use start_index/max_length instead."
        )
    numbers: list[int] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        match = _PAGES.match(part)
        if not match:
            raise InvalidInput(f'Malformed pages {spec!r}: use numbers and ranges like "3-5,9" (1-based).')
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else (count if part.strip().endswith("-") else first)
        if first < 1 or last < first:
            raise InvalidInput(f"Malformed range {part.strip()!r} in pages: ranges go from low to high, starting at 1.")
        if first > count:
            raise InvalidInput(f"pages asks for {kind} {first}, but the document has {count} {kind}s.")
        numbers.extend(range(first, min(last, count) + 1))
    if not numbers:
        raise InvalidInput(f'pages {spec!r} selects nothing: use numbers and ranges like "3-5,9".')
    return sorted(set(numbers))
