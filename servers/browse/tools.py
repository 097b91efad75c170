"""The browse tools' work, without MCP registration: arguments in, a tool result out.

`server.py` registers these with their descriptions; this module composes the
services (reader, browser, sessions) and the presentation. Each function
raises `ServerError`s for the tool wrapper to report.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
from mcp_types import CallToolResult, ImageContent, TextContent

from memento.servers.common.errors import InvalidInput
from memento.servers.common.httpcache import HttpCache
from memento.servers.common.paging import paginate
from memento.servers.common.urls import UrlPolicy
from memento.servers.common.webclient import WebClient

from .browser import Chromium
from .convert import DocumentConverter
from .extract import warm_up
from .find import find_all
from .focus import focus
from .links import extract_links
from .present import FetchResult, ListResult, SnapshotResult, reading_header, reply, untrusted, view_header
from .reader import PageReader, Render
from .render import screenshot as take_screenshot
from .sessions import Sessions, View
from .settings import BrowseSettings

__all__ = ["State", "running", "fetch_page", "find_in_page", "page_links", "screenshot", "session_key", "snapshot_reply"]


@dataclass
class State:
    client: WebClient
    chromium: Chromium
    converter: DocumentConverter
    reader: PageReader
    sessions: Sessions


@asynccontextmanager
async def running(settings: BrowseSettings, policy: UrlPolicy) -> AsyncIterator[State]:
    """The server's shared resources for its lifetime: HTTP client and cache, Chromium (started on first use),
    the document converter and the browsing sessions; all closed on the way out."""
    threading.Thread(target=warm_up, name="warm-extractor", daemon=True).start()
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
        yield State(client, chromium, converter, PageReader(settings, client, chromium, converter), sessions)
    finally:
        await sessions.close_all()
        await chromium.close()
        await client.aclose()
        converter.close()


def session_key(ctx) -> str:
    """One interactive session per MCP session: streamable HTTP names it in a header; stdio has one client."""
    headers = ctx.headers
    session_id = headers.get("mcp-session-id") if headers is not None else None
    return f"http:{session_id}" if session_id else "default"


async def fetch_page(state: State, url: str, query: str | None, start_index: int, max_length: int, render: Render) -> CallToolResult:
    reading = await state.reader.read(url, render)
    text, matching = reading.markdown, None
    if query and query.strip():
        focused = await anyio.to_thread.run_sync(focus, reading.markdown, query.strip())
        text, matching = focused.text, focused.matching
    page = paginate(text, start_index, max_length)
    result = FetchResult(
        url=reading.url,
        requested_url=reading.requested_url,
        title=reading.title,
        published=reading.published,
        format=reading.format,
        rendered=reading.rendered,
        from_cache=reading.from_cache,
        query=query or None,
        matching_passages=matching,
        notes=reading.notes,
        page=page,
    )
    return reply(reading_header(reading, page), page.content, reading.url, page, result)


async def find_in_page(
    state: State, url: str, pattern: str, context_chars: int, regex: bool, render: Render, start_index: int, max_length: int
) -> CallToolResult:
    reading = await state.reader.read(url, render)

    def search():  # page text and matching are CPU work: off the event loop
        return find_all(reading.page_text(), pattern, is_regex=regex, context_chars=context_chars)

    hits, count, more = await anyio.to_thread.run_sync(search)
    if hits:
        body = "\n\n".join(
            f"{n}. (character {h.start:,}{f', {h.matches} matches' if h.matches > 1 else ''}) {h.text}" for n, h in enumerate(hits, start=1)
        )
        summary = f"{count}{'+' if more else ''} match(es) of {pattern!r} in {len(hits)} passage(s)"
    else:
        body = f"No match of {pattern!r} on this page."
        summary = "no match"
    page = paginate(body, start_index, max_length)
    result = ListResult(url=reading.url, title=reading.title, count=count, more=more, page=page)
    return reply(f"# {reading.title or reading.url}\nURL: {reading.url}\n[{summary}]", page.content, reading.url, page, result)


async def page_links(state: State, url: str, contains: str | None, render: Render, start_index: int, max_length: int) -> CallToolResult:
    reading = await state.reader.read(url, render)
    if reading.html is None:
        links, note = [], f"This is a {reading.format} document, not a web page; it has no HTML links to list."
    else:
        links = await anyio.to_thread.run_sync(extract_links, reading.html, reading.url, contains)
        note = "" if links else ("No link matches " + repr(contains) if contains else "The page has no http(s) links.")
    body = "\n".join(f"{n}. [{link.text or '(no text)'}]({link.url})" for n, link in enumerate(links, start=1)) or note
    page = paginate(body, start_index, max_length)
    shown = f"{len(links)} link(s)" + (f" containing {contains!r}" if contains else "")
    result = ListResult(url=reading.url, title=reading.title, count=len(links), page=page)
    return reply(f"# {reading.title or reading.url}\nURL: {reading.url}\n[{shown}]", page.content, reading.url, page, result)


async def screenshot(state: State, url: str, full_page: bool) -> CallToolResult:
    shot = await take_screenshot(state.chromium, url, full_page)
    lines = [f"Screenshot of {shot.url} ({shot.width}x{shot.height} px{', full page' if full_page else ''})"]
    if shot.title:
        lines.append(untrusted(f"Page title: {shot.title}", shot.url))
    lines += [f"Note: {n}" for n in shot.notes]
    return CallToolResult(
        content=[
            TextContent(type="text", text="\n".join(lines)),
            ImageContent(type="image", data=base64.b64encode(shot.png).decode("ascii"), mime_type="image/png"),
        ]
    )


def snapshot_reply(view: View, start_index: int = 0, max_length: int = 10_000) -> CallToolResult:
    if start_index and start_index >= len(view.snapshot):
        raise InvalidInput(f"start_index={start_index} is past the end of the snapshot ({len(view.snapshot)} characters).")
    page = paginate(view.snapshot, start_index, max_length)
    result = SnapshotResult(url=view.url, title=view.title, tabs=view.tabs, notes=view.notes, page=page)
    return reply(view_header(view, page), page.content, view.url, page, result)
