"""Merge ranked result lists into one: duplicates become one hit, ranks add up by reciprocal-rank fusion.

RRF (Cormack et al., 2009) scores a page by the sum of 1/(k + rank) over the
lists that hold it, so agreement between engines (or between phrasings of one
question) lifts a result without trusting any engine's own scores, which are not
comparable. k=60 is the value from the paper. Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .model import SearchResult
from .urlnorm import dedup_key

__all__ = ["Fused", "RRF_K", "fuse"]

RRF_K = 60


@dataclass
class Fused:
    hit: SearchResult
    lists: list[int] = field(default_factory=list)  # which input lists held it, in order


def fuse(lists: Sequence[Sequence[SearchResult]], k: int = RRF_K) -> list[Fused]:
    """One ranked, deduplicated list from several; a single list is deduplicated and scored the same way."""
    merged: dict[str, Fused] = {}
    for which, hits in enumerate(lists):
        seen_here: set[str] = set()
        rank = 0
        for hit in hits:
            key = dedup_key(hit.url)
            if key in seen_here:  # an engine listing a page twice does not count twice
                _absorb(merged[key].hit, hit)
                continue
            seen_here.add(key)
            rank += 1
            entry = merged.get(key)
            if entry is None:
                entry = merged[key] = Fused(hit.model_copy(update={"engines": list(hit.engines), "score": 0.0}))
            else:
                _absorb(entry.hit, hit)
            entry.hit.score += 1.0 / (k + rank)
            if which not in entry.lists:
                entry.lists.append(which)
    ranked = sorted(merged.values(), key=lambda f: -f.hit.score)  # stable: ties keep first-seen order
    for entry in ranked:
        entry.hit.score = round(entry.hit.score, 6)
    return ranked


def _absorb(kept: SearchResult, other: SearchResult) -> None:
    """Fill what the kept copy lacks from another copy of the same page."""
    if not kept.snippet and other.snippet:
        kept.snippet = other.snippet
    if not kept.published and other.published:
        kept.published = other.published
    if not kept.title.strip() and other.title:
        kept.title = other.title
    for engine in other.engines:
        if engine not in kept.engines:
            kept.engines.append(engine)
