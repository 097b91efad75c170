"""The browse tools' work without MCP: read, search and list pages, take screenshots, drive browser sessions.

`BrowseService` composes the reader, Chromium and the interactive sessions and
returns what it found (readings, matches, links, views); `present.py` pages
and phrases it. Failures are raised as `ServerError`s for the tool wrapper.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread

from memento.servers.common.httpcache import HttpCache
from memento.servers.common.urls import UrlPolicy
from memento.servers.common.warmup import warm_later
from memento.servers.common.webclient import WebClient

from .browser import Chromium
from .convert import DocumentConverter
from .extract import warm_up
from .find import PageMatch, find_all
from .focus import focus
from .links import Link, extract_links
from .reader import PageReader, Reading, Render
from .rendering import Shot
from .rendering import screenshot as take_screenshot
from .sessions import Session, Sessions, View
from .settings import BrowseSettings

__all__ = ["BrowseService", "FocusedReading", "PageLinks", "PageMatches"]


@dataclass(frozen=True)
class FocusedReading:
    """A page read as Markdown, with the passages about `query` moved first when one was given."""

    reading: Reading
    text: str
    query: str | None
    matching: int | None  # passages that match the query; None without a query


@dataclass(frozen=True)
class PageMatches:
    """Where a pattern occurs on a page: passages in page order, each holding one or more matches."""

    reading: Reading
    pattern: str
    passages: list[PageMatch]
    count: int  # matches found, at most the search's limit
    more: bool  # True when there were further matches past the limit


@dataclass(frozen=True)
class PageLinks:
    """A page's links in page order; `note` says why there are none, when there are none."""

    reading: Reading
    contains: str | None
    links: list[Link]
    note: str = ""


class BrowseService:
    """The server's shared resources (HTTP client and cache, Chromium, converter, sessions) and the tools' work."""

    def __init__(self, client: WebClient, chromium: Chromium, converter: DocumentConverter, reader: PageReader, sessions: Sessions) -> None:
        self.client = client
        self.chromium = chromium
        self.converter = converter
        self.reader = reader
        self.sessions = sessions

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: BrowseSettings, policy: UrlPolicy) -> AsyncIterator[BrowseService]:
        """The service for the server's lifetime; Chromium starts on first use; everything is closed on the way out."""
        warmup = warm_later(warm_up, "warm-extractor")
        cache = HttpCache(settings.http_cache_dir, settings.browse_cache_ttl_s, int(settings.browse_cache_max_bytes))
        client = WebClient(
            policy=policy,
            user_agent=settings.user_agent,
            timeout_s=settings.http_timeout_s,
            max_bytes=int(settings.browse_max_bytes),
            max_redirects=settings.browse_max_redirects,
            cache=cache,
        )
        chromium = Chromium(settings, client.policy)
        converter = DocumentConverter(settings)
        sessions = Sessions(chromium)
        try:
            yield cls(client, chromium, converter, PageReader(settings, client, chromium, converter), sessions)
        finally:
            warmup.cancel()
            await sessions.close_all()
            await chromium.close()
            await client.aclose()
            converter.close()

    # ---- reading pages ------------------------------------------------------------------------------

    async def read(self, url: str, query: str | None, render: Render) -> FocusedReading:
        """A page's main content as Markdown; with a query, the passages about it first."""
        reading = await self.reader.read(url, render)
        text, matching = reading.markdown, None
        if query and query.strip():
            focused = await anyio.to_thread.run_sync(focus, reading.markdown, query.strip())
            text, matching = focused.text, focused.matching
        return FocusedReading(reading, text, query or None, matching)

    async def find(self, url: str, pattern: str, context_chars: int, regex: bool, render: Render) -> PageMatches:
        """Every occurrence of a text or regular expression in a page's whole text."""
        reading = await self.reader.read(url, render)

        def search() -> tuple[list[PageMatch], int, bool]:  # page text and matching are CPU work: off the event loop
            return find_all(reading.page_text(), pattern, is_regex=regex, context_chars=context_chars)

        passages, count, more = await anyio.to_thread.run_sync(search)
        return PageMatches(reading, pattern, passages, count, more)

    async def links(self, url: str, contains: str | None, render: Render) -> PageLinks:
        """A page's http(s) links, those containing `contains` when given."""
        reading = await self.reader.read(url, render)
        if reading.html is None:
            return PageLinks(reading, contains, [], f"This is a {reading.format} document, not a web page; it has no HTML links to list.")
        links = await anyio.to_thread.run_sync(extract_links, reading.html, reading.url, contains)
        note = "" if links else ("No link matches " + repr(contains) if contains else "The page has no http(s) links.")
        return PageLinks(reading, contains, links, note)

    async def screenshot(self, url: str, full_page: bool) -> Shot:
        """A PNG of the page rendered in Chromium: the first screen, or the whole page up to the height limit."""
        return await take_screenshot(self.chromium, url, full_page)

    # ---- interactive sessions, one per MCP session (`key`) --------------------------------------------

    async def open(self, key: str, url: str) -> View:
        """Open `url` in the session's browser, starting the session if needed."""

        async def goto(session: Session) -> list[str]:
            return await self.sessions.goto(session, url)

        return await self.sessions.act(key, goto, create=True)

    async def snapshot(self, key: str, verbose: bool) -> View:
        """A fresh snapshot of the session's current page."""
        return await self.sessions.act(key, self.sessions.look, verbose=verbose)

    async def last_snapshot(self, key: str) -> View:
        """The snapshot taken last, to read on in it with the same refs."""
        return await self.sessions.last_view(key)

    async def click(self, key: str, ref: str) -> View:
        """Click the element `ref` of the latest snapshot."""

        async def click(session: Session) -> list[str]:
            return await self.sessions.click(session, ref)

        return await self.sessions.act(key, click)

    async def type(self, key: str, ref: str, text: str, submit: bool) -> View:
        """Fill the text field `ref` with `text`, pressing Enter after it when `submit`."""

        async def type_text(session: Session) -> list[str]:
            return await self.sessions.type(session, ref, text, submit)

        return await self.sessions.act(key, type_text)

    async def back(self, key: str) -> View:
        """Go back a page, or close the tab a click opened."""
        return await self.sessions.act(key, self.sessions.back)

    async def close(self, key: str) -> bool:
        """Close the session; False when none was open."""
        return await self.sessions.close(key)
