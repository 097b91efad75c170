"""An on-disk cache of successful GET responses, kept for a fixed time (TTL).

So the same page fetched twice in a task costs nothing. Entries live under
`MEMENTO_HOME/cache/http/` as `<sha256(url)>.body` plus a small JSON
`<sha256(url)>.meta`, written atomically (write, then rename), so a crash
never leaves a half entry that reads as whole. Servers' cache headers are not
consulted: the TTL is the research agent's, not the site's. The folder is
bounded by size; the oldest entries go first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["CachedResponse", "HttpCache"]

log = logging.getLogger("memento.http")


@dataclass(frozen=True)
class CachedResponse:
    url: str  # final URL after redirects
    status: int
    content_type: str
    content: bytes
    fetched_at: float  # time.time() when it was downloaded


class HttpCache:
    def __init__(self, folder: Path, ttl_s: float, max_bytes: int) -> None:
        self.folder = folder
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None  # measured on the first write

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0 and self.max_bytes > 0

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
        return self.folder / f"{key}.meta", self.folder / f"{key}.body"

    def get(self, url: str) -> CachedResponse | None:
        """The stored response for `url` if it is younger than the TTL."""
        if not self.enabled:
            return None
        meta_path, body_path = self._paths(url)
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            if time.time() - float(meta["fetched_at"]) > self.ttl_s:
                return None
            content = body_path.read_bytes()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if len(content) != meta.get("size"):  # body replaced by a concurrent writer: treat as a miss
            return None
        return CachedResponse(meta["url"], int(meta["status"]), str(meta["content_type"]), content, float(meta["fetched_at"]))

    def put(self, requested_url: str, response: CachedResponse) -> None:
        if not self.enabled or len(response.content) > self.max_bytes:
            return
        meta_path, body_path = self._paths(requested_url)
        meta = {k: v for k, v in asdict(response).items() if k != "content"} | {"size": len(response.content)}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
            body_tmp, meta_tmp = body_path.with_name(body_path.name + suffix), meta_path.with_name(meta_path.name + suffix)
            body_tmp.write_bytes(response.content)
            meta_tmp.write_text(json.dumps(meta), "utf-8")
            os.replace(body_tmp, body_path)
            os.replace(meta_tmp, meta_path)  # the meta last: a reader never sees meta without its body
        except OSError as exc:
            log.warning("could not write the HTTP cache in %s: %s", self.folder, exc)
            return
        with self._lock:
            if self._size is None:
                self._size = self._measure()
            else:
                self._size += len(response.content)
            if self._size > self.max_bytes:
                self._size = self._evict()

    def _entries(self) -> list[tuple[float, int, Path]]:
        entries = []
        for path in self.folder.glob("*.body"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        return entries

    def _measure(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self) -> int:
        """Delete the oldest entries until the folder is under 90% of its limit; return its size."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, body in entries:
            if total <= self.max_bytes * 0.9:
                break
            for path in (body.with_suffix(".meta"), body):
                try:
                    path.unlink()
                except OSError:
                    pass
            total -= size
        return total
