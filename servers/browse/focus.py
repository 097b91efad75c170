"""Query-aware reading: the passages of a page that answer a query come first.

The page is cut into passages at paragraph breaks and ranked with the
shared BM25 ranker (`memento.convert.passages`). Matching passages come first, best first;
the rest follow in page order, so nothing is dropped and pagination still
reaches every word. Each passage carries a marker with its place on the page
("passage 7 of 23"), so a model can tell what came before what.
"""

from __future__ import annotations

from dataclasses import dataclass

from memento.convert.model import Document, Section
from memento.convert.passages import chunk, rank_passages

__all__ = ["Focused", "focus"]


@dataclass(frozen=True)
class Focused:
    text: str
    matching: int  # passages that match the query
    passages: int  # passages on the page


def focus(markdown: str, query: str) -> Focused:
    pieces = chunk(markdown)
    total = len(pieces)
    ranked = rank_passages(Document("html", [Section(markdown)]), query, top_k=max(total, 1))
    if not ranked:
        note = f"> Note: no passage matches the query {query!r}; the page follows in its own order.\n\n"
        return Focused(note + markdown, 0, total)
    position = {offset: number for number, (offset, _) in enumerate(pieces, start=1)}
    shown: set[int] = set()
    parts = [
        f"> Note: the {len(ranked)} of {total} passages that match the query {query!r} come first, best first; "
        "the rest follow in page order. Markers give each passage's place on the page."
    ]
    for passage in ranked:
        number = position.get(passage.start)
        if number is None or number in shown:
            continue
        shown.add(number)
        parts.append(f"<!-- passage {number} of {total} · relevance {passage.score:g} -->\n{passage.text}")
    rest = [(number, text) for number, (_, text) in enumerate(pieces, start=1) if number not in shown]
    if rest:
        parts.append("<!-- the rest of the page, in order -->")
        parts.extend(f"<!-- passage {number} of {total} -->\n{text}" for number, text in rest)
    return Focused("\n\n".join(parts) + "\n", len(shown), total)
