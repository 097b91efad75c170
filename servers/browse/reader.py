"""Reading a URL, whatever it serves: the service behind fetch_page, find_in_page and page_links.

`PageReader.read(url, render)` fetches over HTTP (guarded, cached), converts
documents through the documents converters, extracts the main content of web
pages, and renders them in Chromium when asked to or when `auto` judges the
HTML alone would read empty. Readings are kept in memory for the cache TTL,
so paging through a long page fetches, renders and extracts it once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import anyio.to_thread

from memento.servers.common.errors import FetchFailed, InvalidInput, TimedOut
from memento.servers.common.webclient import Fetched, HttpStatusError, WebClient

from .browser import BrowserUnavailable, Chromium
from .convert import DocumentConverter, sniff_format
from .extract import extract_main, needs_rendering, page_text
from .rendering import NotAWebPage, render_page
from .settings import BrowseSettings

__all__ = ["PageReader", "Reading", "Render"]

Render = Literal["never", "always", "auto"]


@dataclass
class Reading:
    requested_url: str
    url: str  # final URL after redirects
    title: str
    published: str | None
    format: str  # "html", or the document format ("pdf", "docx", "json"…)
    markdown: str  # the main content
    html: str | None  # the page's (rendered) HTML; None for documents
    rendered: bool
    from_cache: bool = False
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    _text: str | None = None

    def page_text(self) -> str:
        """The whole page as text, navigation and footers included (what find_in_page searches)."""
        if self._text is None:
            self._text = page_text(self.html) if self.html is not None else self.markdown
        return self._text

    @property
    def weight(self) -> int:
        return 2 * (len(self.markdown) + len(self.html or "") + len(self._text or "")) + 1024


class _Memory:
    """Readings by (url, render), least recently used out first, each kept for the TTL."""

    def __init__(self, max_bytes: int, ttl_s: float) -> None:
        self.max_bytes, self.ttl_s = max_bytes, ttl_s
        self._entries: OrderedDict[tuple[str, str], tuple[float, Reading]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Reading | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] > self.ttl_s:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[str, str], reading: Reading) -> None:
        if self.ttl_s <= 0 or reading.weight > self.max_bytes:
            return
        with self._lock:
            self._entries[key] = (time.monotonic(), reading)
            self._entries.move_to_end(key)
            while sum(r.weight for _, r in self._entries.values()) > self.max_bytes:
                self._entries.popitem(last=False)


class PageReader:
    def __init__(self, settings: BrowseSettings, client: WebClient, chromium: Chromium, converter: DocumentConverter) -> None:
        self.settings = settings
        self.client = client
        self.chromium = chromium
        self.converter = converter
        self.memory = _Memory(int(settings.browse_memory_cache_bytes), settings.browse_cache_ttl_s)

    async def read(self, url: str, render: Render = "auto") -> Reading:
        if render not in ("never", "always", "auto"):
            raise InvalidInput(f"render must be 'never', 'always' or 'auto', not {render!r}.")
        key = (url.strip(), render)
        cached = self.memory.get(key)
        if cached is not None:
            return replace(cached, from_cache=True)
        reading = await self._read(url.strip(), render)
        self.memory.put(key, reading)
        return reading

    async def _read(self, url: str, render: Render) -> Reading:
        notes: list[str] = []
        if render == "always":
            try:
                return await self._render(url, [])
            except NotAWebPage as exc:
                notes.append(f"{exc} It was read over HTTP instead.")
        try:
            fetched = await self.client.get(url)
        except HttpStatusError as exc:
            if render != "auto" or exc.status != 403:
                raise
            # Many sites refuse plain HTTP clients with 403 but serve a browser: try one before giving up.
            try:
                return await self._render(url, [f"Rendered with Chromium because the site refused plain HTTP ({exc})"])
            except (BrowserUnavailable, TimedOut, FetchFailed, NotAWebPage):
                raise exc from None
        fmt = sniff_format(fetched.content, fetched.mime_type, fetched.url)
        if fmt != "html":
            return await self._document(fetched, fmt, notes)
        reading = await self._from_html(fetched, notes)
        if render == "auto":
            body_chars = len(reading.markdown) - len(reading.title)
            reason = needs_rendering(reading.html or "", body_chars, self.settings.browse_auto_render_chars)
            if reason:
                try:
                    return await self._render(fetched.url, [f"Rendered with Chromium because {reason}."])
                except (BrowserUnavailable, TimedOut, FetchFailed, NotAWebPage) as exc:
                    reading.notes.append(f"Rendering was needed ({reason}) but failed: {exc} Showing the HTML as served.")
        return reading

    async def _from_html(self, fetched: Fetched, notes: list[str]) -> Reading:
        text, encoding = fetched.text()
        extracted = await anyio.to_thread.run_sync(extract_main, text, fetched.url)
        if not extracted.main_content:
            notes.append("No main content was recognised; this is the whole page.")
        return Reading(
            requested_url=fetched.requested_url,
            url=fetched.url,
            title=extracted.title,
            published=extracted.published,
            format="html",
            markdown=extracted.markdown,
            html=text,
            rendered=False,
            from_cache=fetched.from_cache,
            notes=notes,
            metadata={"encoding": encoding, "content_type": fetched.content_type, "bytes": len(fetched.content)},
        )

    async def _render(self, url: str, notes: list[str]) -> Reading:
        rendered = await render_page(self.chromium, url)
        extracted = await anyio.to_thread.run_sync(extract_main, rendered.html, rendered.url)
        notes = [*notes, *rendered.notes]
        if not extracted.main_content:
            notes.append("No main content was recognised; this is the whole page.")
        return Reading(
            requested_url=url,
            url=rendered.url,
            title=extracted.title,
            published=extracted.published,
            format="html",
            markdown=extracted.markdown,
            html=rendered.html,
            rendered=True,
            notes=notes,
            metadata={"status": rendered.status},
        )

    async def _document(self, fetched: Fetched, fmt: str, notes: list[str]) -> Reading:
        document = await self.converter.convert(fetched.content, fetched.url, fmt)
        metadata = {k: v for k, v in document.metadata.items() if isinstance(v, (str, int, float, bool))}
        title = str(metadata.get("title") or "")
        published = metadata.get("created") or metadata.get("date") or None
        return Reading(
            requested_url=fetched.requested_url,
            url=fetched.url,
            title=title,
            published=str(published) if published else None,
            format=document.format,
            markdown=document.markdown(),
            html=None,
            rendered=False,
            from_cache=fetched.from_cache,
            notes=notes,
            metadata={**metadata, "content_type": fetched.content_type, "bytes": len(fetched.content)},
        )
