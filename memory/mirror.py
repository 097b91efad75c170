"""An in-process mirror of every case's statistics, so re-ranking 64 candidates needs no metadata reads.

Fetching metadata from Chroma costs about as much per row as the whole nearest-
neighbour search, so the Q policy reads the statistics it needs (reward, label,
uses, successes, plan length) from this mirror. It loads once, then pulls only
cases updated since its watermark, at most every `refresh_s` seconds; writes of
this process land in it at once. Other processes' writes show up within
`refresh_s`, which is fresh enough for ranking features.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from .cases import Case

__all__ = ["StatsMirror"]


class StatsMirror:
    def __init__(self, collection: Any, refresh_s: float = 2.0, page: int = 5000) -> None:
        self.collection = collection
        self.refresh_s = refresh_s
        self.page = page
        self._stats: dict[str, dict[str, float]] = {}
        self._watermark = -1.0
        self._checked = 0.0
        self._lock = threading.Lock()

    def note(self, cases: Iterable[Case]) -> None:
        """Record cases this process just wrote."""
        with self._lock:
            for case in cases:
                self._stats[case.id] = case.stats()

    def forget(self, ids: Iterable[str]) -> None:
        with self._lock:
            for case_id in ids:
                self._stats.pop(case_id, None)

    def stats(self, ids: list[str]) -> list[dict[str, float]]:
        self._refresh()
        with self._lock:
            missing = [i for i in ids if i not in self._stats]
        if missing:  # written by another process since the last refresh
            got = self.collection.get(ids=missing, include=["metadatas", "documents"])
            self.note(Case.from_store(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]))
        with self._lock:
            return [self._stats.get(i, {}) for i in ids]

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.refresh_s:
            return
        self._checked = now
        where = {"updated": {"$gt": self._watermark}} if self._watermark >= 0 else None
        offset = 0
        newest = self._watermark
        while True:
            got = self.collection.get(where=where, limit=self.page, offset=offset, include=["metadatas", "documents"])
            if not got["ids"]:
                break
            cases = [Case.from_store(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
            self.note(cases)
            newest = max([newest, *(c.updated for c in cases)])
            offset += len(got["ids"])
        self._watermark = newest
