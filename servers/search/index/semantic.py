"""Fusing embedding similarity into local search: the hook, and an adapter over the memory package's embedder.

`LocalIndex` takes any `SemanticRanker`; its ordering of the BM25 candidates is
fused with BM25's own by reciprocal rank. `EmbeddingRanker` is that ranker over
`memento.memory.embeddings` (all-MiniLM-L6-v2 on the CPU), off unless
MEMENTO_SEARCH_LOCAL_SEMANTIC=true: it loads the model on first use (numpy, no torch) and embeds the
returned candidates at query time, which costs 0.1-1 s per query on a busy
2-core CPU. Storing section vectors at build time would make it cheap; not done yet.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["EmbeddingRanker", "SemanticRanker", "fuse_orders"]

T = TypeVar("T")


class SemanticRanker(Protocol):
    def rank(self, query: str, texts: Sequence[str]) -> Sequence[int]:
        """Indexes of `texts`, most similar to `query` first."""
        ...


def fuse_orders(items: Sequence[T], semantic_order: Sequence[int], k: int = 60) -> list[T]:
    """Reciprocal-rank fusion of the given order (BM25) with a semantic order of the same items."""
    scores = [1.0 / (k + rank + 1) for rank in range(len(items))]
    for rank, position in enumerate(semantic_order):
        if 0 <= position < len(items):
            scores[position] += 1.0 / (k + rank + 1)
    return [items[i] for i in sorted(range(len(items)), key=lambda i: -scores[i])]


class EmbeddingRanker:
    """A `SemanticRanker` by cosine similarity of embeddings; the embedder is made on first use."""

    def __init__(self, embedder: Any = None) -> None:
        self._embedder = embedder
        self._lock = threading.Lock()

    def rank(self, query: str, texts: Sequence[str]) -> Sequence[int]:
        with self._lock:
            if self._embedder is None:
                from memento.memory.embeddings import make_embedder  # lazy: the model loads here, once

                self._embedder = make_embedder()
        vectors = self._embedder.embed([query, *texts])  # L2-normalised: the dot product is the cosine
        similarity = vectors[1:] @ vectors[0]
        return sorted(range(len(texts)), key=lambda i: -float(similarity[i]))
