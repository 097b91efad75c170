"""Non-HTML responses (PDF, Office, spreadsheets, JSON, text, images) through the shared converters.

The format is told from the bytes by `memento.convert`'s `detect_format`;
conversion runs its `convert` inside a bounded worker pool, so a hostile
PDF costs one bounded process (time and memory), never this server. The pool
starts on the first document, not with the server.
"""

from __future__ import annotations

import threading
from urllib.parse import unquote, urlsplit

from memento.convert.detect import detect_format, zip_member_names
from memento.convert.formats import Blob, ConvertOptions, convert
from memento.convert.model import Document
from memento.servers.common.errors import UnsupportedFormat

from .settings import BrowseSettings

__all__ = ["DocumentConverter", "sniff_format"]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CONVERT = f"{convert.__module__}:{convert.__name__}"


def url_file_name(url: str) -> str:
    parts = urlsplit(url)
    return unquote(parts.path.rsplit("/", 1)[-1]) or parts.hostname or "page"


def sniff_format(content: bytes, mime_type: str, url: str) -> str:
    """'html' for web pages, else a documents format name; refuses binary content no converter reads."""
    head = content[:8192]
    zip_names = zip_member_names(content) if head.startswith(b"PK") else None
    detected = detect_format(head, url_file_name(url), zip_names)
    if detected == "binary":
        shown = mime_type or "no content type"
        raise UnsupportedFormat(
            f"{url} sent binary content ({shown}, first bytes {content[:8]!r}) that is neither a web page nor "
            "a document format this server reads (PDF, Office, spreadsheets, JSON, text, images)."
        )
    if mime_type in _HTML_TYPES and detected in ("html", "text", "xml"):
        return "html"  # servers label fragments and odd markup text/html; trust them unless the bytes say otherwise
    return detected


class DocumentConverter:
    def __init__(self, settings: BrowseSettings) -> None:
        self.settings = settings
        self.options = ConvertOptions(ocr=settings.browse_ocr)
        self._pool = None
        self._lock = threading.Lock()

    def _workers(self):
        from memento.convert.worker import WorkerPool

        with self._lock:
            if self._pool is None:
                self._pool = WorkerPool(
                    1,
                    int(self.settings.browse_convert_memory_limit),
                    self.settings.browse_convert_timeout_s,
                    settings_prefix="MEMENTO_BROWSE_CONVERT",
                )
            return self._pool

    async def convert(self, content: bytes, url: str, fmt: str) -> Document:
        return await self._workers().call(_CONVERT, Blob(content, url_file_name(url), fmt), self.options)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
