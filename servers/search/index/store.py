"""The local full-text index: tantivy (BM25, English stemming) over the sections of a user's documents.

One index document per section (a PDF page, a slide, a sheet, a chapter, or a
whole text file), so a hit can say "page 12". All sections of a file share its
`source`, which is how a changed file is replaced (delete by term, add again).
Searching groups sections by source: a file appears once, at its best section,
with the other matching sections listed. tantivy is imported on first use.
The index is written only by `IndexBuilder`; this module reads and opens it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memento.servers.common.errors import NotFound

from .semantic import SemanticRanker, fuse_orders

__all__ = ["IndexMatch", "LocalIndex", "SNIPPET_CHARS", "new_schema"]

log = logging.getLogger("memento.search")

SNIPPET_CHARS = 300
_ALSO = 8  # other matching sections named per file


def new_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("source", stored=True, tokenizer_name="raw")
    builder.add_text_field("location", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("body", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("format", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("modified", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


@dataclass
class IndexMatch:
    """A document of the local index matching a query: its best section, and the other matching ones."""

    source: str
    title: str
    location: str
    snippet: str
    score: float
    format: str = ""
    modified: str | None = None
    also: list[str] = field(default_factory=list)


class LocalIndex:
    """Read side of the index. Safe to share between threads; sees new builds on the next search."""

    def __init__(self, directory: Path, semantic: SemanticRanker | None = None) -> None:
        self.directory = directory
        # The hook for embedding similarity (the memory package's embedder): None until one exists.
        self.semantic = semantic
        self._index: Any = None
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return (self.directory / "meta.json").is_file()

    def missing_message(self) -> str:
        return (
            f"There is no local index at {self.directory}. Build one with `memento index build PATH...` "
            "(folders of documents and/or http(s) URLs), or set MEMENTO_SEARCH_INDEX_DIR to an existing index."
        )

    def _searcher(self) -> tuple[Any, Any]:
        with self._lock:
            if self._index is None:
                if not self.exists():
                    raise NotFound(self.missing_message())
                import tantivy

                self._index = tantivy.Index.open(str(self.directory))
            self._index.reload()  # cheap (~20 µs): picks up what a build committed since the last search
            return self._index, self._index.searcher()

    def count(self) -> int:
        """Sections in the index (0 when there is none)."""
        if not self.exists():
            return 0
        return self._searcher()[1].num_docs

    def search(self, text: str, limit: int = 10, offset: int = 0) -> list[IndexMatch]:
        import tantivy

        index, searcher = self._searcher()
        # Lenient parsing: a stray quote or colon in a model's query must not be a syntax error.
        query, _ = index.parse_query_lenient(text, ["title", "body"], field_boosts={"title": 2.0})
        wanted = offset + limit
        fetch = min(max(wanted * 8, 50), 5000)
        found = searcher.search(query, fetch).hits
        snippets = tantivy.SnippetGenerator.create(searcher, query, index.schema, "body")
        snippets.set_max_num_chars(SNIPPET_CHARS)
        grouped: dict[str, IndexMatch] = {}
        for score, address in found:
            doc = searcher.doc(address)
            source = doc.get_first("source") or ""
            location = doc.get_first("location") or "text"
            if source in grouped:
                if len(grouped[source].also) < _ALSO and location != "text":
                    grouped[source].also.append(location)
                continue
            if len(grouped) >= wanted:
                continue
            body = doc.get_first("body") or ""
            fragment = snippets.snippet_from_doc(doc).fragment().strip()
            grouped[source] = IndexMatch(
                source=source,
                title=doc.get_first("title") or source,
                location=location,
                snippet=" ".join((fragment or body[:SNIPPET_CHARS]).split()),
                score=round(float(score), 4),
                format=doc.get_first("format") or "",
                modified=doc.get_first("modified") or None,
            )
        hits = list(grouped.values())
        if self.semantic is not None and len(hits) > 1:
            try:
                hits = fuse_orders(hits, self.semantic.rank(text, [h.title + "\n" + h.snippet for h in hits]))
            except Exception:  # the embedder is an extra: without it the keyword ranking still stands
                log.warning("semantic re-ranking failed; keeping the keyword ranking", exc_info=True)
        return hits[offset:wanted]
