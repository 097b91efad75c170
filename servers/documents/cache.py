"""Converted documents kept by content hash, so paging through a file converts it once.

A least-recently-used map bounded by the characters it holds. Keys are the
SHA-256 of the bytes plus the options that change the output, so a file that
changes on disk is converted again and two copies of one file share an entry.
An archive member is kept as `Extracted` (its document, name and size) under
the archive's hash and the member's path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from memento.convert.formats import Extracted
from memento.convert.model import Document

__all__ = ["DocumentCache"]

Entry = Document | Extracted


def _weight(entry: Entry) -> int:
    document = entry.document if isinstance(entry, Extracted) else entry
    return sum(len(s.text) for s in document.sections) * 2 + 1024


class DocumentCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Entry, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: str, document: Entry) -> None:
        weight = _weight(document)
        if weight > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._entries[key] = (document, weight)
            self._size += weight
            while self._size > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped
