"""Find the passages of a document that answer a query: chunk by section, rank with BM25.

Chunks follow paragraph breaks within a section, so every passage keeps its
location (page, slide, sheet, chapter). BM25 (k1=1.5, b=0.75) with a little
weight for exact phrase hits is enough to point a model at the right pages
of a long report without reading all of it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from .model import Document

__all__ = ["Passage", "rank_passages"]

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("a an and are as at be by for from has have in is it its of on or that the this to was were will with".split())


@dataclass(frozen=True)
class Passage:
    location: str
    text: str
    score: float
    start: int  # offset of the passage inside its section's text


def _tokens(text: str) -> list[str]:
    return [t for t in _WORD.findall(text.lower()) if t not in _STOP]


def chunk(text: str, target: int = 900) -> list[tuple[int, str]]:
    """(offset, text) chunks of about `target` characters, cut at blank lines or line ends."""
    chunks: list[tuple[int, str]] = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + target, n)
        if end < n:
            cut = text.rfind("\n\n", start + target // 3, end)
            if cut == -1:
                cut = text.rfind("\n", start + target // 3, end)
            if cut == -1:
                cut = text.rfind(" ", start + target // 3, end)
            if cut != -1:
                end = cut + 1
        piece = text[start:end].strip()
        if piece:
            chunks.append((start, piece))
        start = end
    return chunks


def rank_passages(document: Document, query: str, top_k: int = 5) -> list[Passage]:
    query_terms = _tokens(query)
    if not query_terms:
        return []
    units = [(section.location, offset, piece) for section in document.sections for offset, piece in chunk(section.text)]
    if not units:
        return []
    docs = [Counter(_tokens(piece)) for _, _, piece in units]
    lengths = [sum(d.values()) for d in docs]
    average = sum(lengths) / len(lengths) or 1.0
    frequency = Counter(term for d in docs for term in set(d))
    k1, b = 1.5, 0.75
    phrase = " ".join(query.lower().split())
    scored = []
    for (location, offset, piece), counts, length in zip(units, docs, lengths):
        score = 0.0
        for term in set(query_terms):
            tf = counts.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (len(docs) - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        if score > 0 and len(phrase) > 3 and phrase in " ".join(piece.lower().split()):
            score *= 1.5
        if score > 0:
            scored.append(Passage(location, piece, round(score, 3), offset))
    scored.sort(key=lambda p: p.score, reverse=True)
    return scored[:top_k]
