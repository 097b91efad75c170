"""Load a URL in Chromium and take what a reader needs: the rendered HTML, or a screenshot.

`navigate` checks the URL, loads it until the DOM is parsed, and maps the
browser's errors onto the server's; `settle` then waits, within a bound, for
requests to finish and the DOM to stop changing, so script-built content is
there without waiting on pages that never go quiet. The whole of a render has
one deadline; a page that hangs its own scripts is closed when it passes.
"""

from __future__ import annotations

import http
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from memento.servers.common.errors import AccessDenied, FetchFailed, ServerError, TimedOut, TooLarge
from memento.servers.common.netguard import check_url_async
from memento.servers.common.webclient import HttpStatusError

from .browser import Chromium, playwright_error
from .guard import RequestGuard

if TYPE_CHECKING:
    from playwright.async_api import FloatRect

__all__ = ["NotAWebPage", "Rendered", "Shot", "Traffic", "ensure_not_refused", "navigate", "render_page", "screenshot", "settle"]

_QUIET_S = 0.15  # no requests and no DOM change for this long counts as settled
# Resolves true once the DOM has not changed for quietMs, false when capMs passes first.
_DOM_QUIET = """([quietMs, capMs]) => new Promise(resolve => {
  const start = performance.now();
  let last = start;
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  const tick = () => {
    const now = performance.now();
    if (now - last >= quietMs || now - start >= capMs) { observer.disconnect(); resolve(now - last >= quietMs); }
    else setTimeout(tick, 25);
  };
  setTimeout(tick, 25);
})"""
_POLL_S = 0.02
# The page's whole scrollable size, [width, height].
_PAGE_SIZE = """() => { const d = document.documentElement, b = document.body;
  return [Math.max(d.scrollWidth, b ? b.scrollWidth : 0), Math.max(d.scrollHeight, b ? b.scrollHeight : 0)]; }"""
_RETAKES = 4  # shots taken at most to get under the byte limit
_MIN_SHOT_HEIGHT = 50  # a strip thinner than this is no use to anyone
_SLACK_S = 5.0  # beyond the page timeout and the settle time, for reading the page out
_PROXY_FAILURE = "ERR_SOCKS_CONNECTION_FAILED"  # how Chromium reports a connection our proxy refused
_ERROR_PAGE = "chrome-error://"  # where a frame lands when its navigation failed


class NotAWebPage(ServerError):
    """The URL answered with a download (PDF, archive…), not a page; read it over HTTP instead."""


@dataclass(frozen=True)
class Rendered:
    url: str
    html: str
    status: int | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Shot:
    url: str
    title: str
    png: bytes
    width: int  # of the image
    height: int
    notes: list[str] = field(default_factory=list)
    page_width: int = 0  # of what was shot: the viewport, or the whole page when full_page
    page_height: int = 0

    @property
    def cut(self) -> bool:
        return (self.width, self.height) != (self.page_width, self.page_height)


class Traffic:
    """Requests a page has in flight."""

    def __init__(self, page) -> None:
        self.pending = 0
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, _request) -> None:
        self.pending += 1

    def _end(self, _request) -> None:
        self.pending = max(0, self.pending - 1)


async def navigate(page, url: str, guard: RequestGuard, timeout_s: float) -> int | None:
    """Load `url` in `page` up to DOMContentLoaded; return the HTTP status; raise a `ServerError` on failure."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    await check_url_async(url, guard.policy)
    try:
        response = await page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
    except PlaywrightTimeout as exc:
        raise TimedOut(
            f"{url} did not finish loading in the browser within {timeout_s:g} s (MEMENTO_BROWSE_PAGE_TIMEOUT_S); "
            "its scripts may never finish. Try render='never' to read the HTML as served."
        ) from exc
    except PlaywrightError as exc:
        raise _browser_error(exc, url, guard) from exc
    if response is None:
        return None
    if response.status >= 400:
        # The standard reason phrase, not the server's own: an error message sits outside the untrusted-content block.
        raise HttpStatusError(f"{page.url} answered HTTP {response.status} {_phrase(response.status)} in the browser.", response.status)
    content_type = (await response.all_headers()).get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in ("text/html", "application/xhtml+xml", "text/plain"):
        raise NotAWebPage(f"{url} is {content_type}, not a web page; fetch_page reads it as a document.")
    return response.status


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _browser_error(exc: Exception, url: str, guard: RequestGuard) -> ServerError:
    message = str(exc)
    if "ERR_BLOCKED_BY_CLIENT" in message or (guard.proxy_refusals and _PROXY_FAILURE in message):
        return AccessDenied(f"Refused {url}: {guard.note() or 'blocked by the URL policy.'}")
    if "Download is starting" in message or "net::ERR_ABORTED" in message:
        return NotAWebPage(f"{url} is a download, not a web page; fetch_page reads it as a document.")
    known = {
        "ERR_NAME_NOT_RESOLVED": "its host name does not resolve; check the spelling",
        "ERR_CONNECTION_REFUSED": "connection refused; the site may be down",
        "ERR_CONNECTION_RESET": "the connection was reset",
        "ERR_TOO_MANY_REDIRECTS": "it redirects in a loop",
        "ERR_CERT": "its TLS certificate is not valid",
        "ERR_INVALID_URL": "the URL is malformed",
        "ERR_EMPTY_RESPONSE": "the server sent nothing",
    }
    for code, meaning in known.items():
        if code in message:
            return FetchFailed(f"The browser could not load {url}: {meaning}.")
    return FetchFailed(f"The browser could not load {url}: {' '.join(message.split())[:300]}.")


async def settle(page, traffic: Traffic, max_s: float) -> bool:
    """Wait until no request is pending and the DOM has not changed for a moment; False if it never did.

    The DOM is watched inside the page (one round trip per quiet check, not one per poll); requests are
    counted here from the browser's events.
    """
    deadline = time.monotonic() + max_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            quiet = await page.evaluate(_DOM_QUIET, [_QUIET_S * 1000, remaining * 1000])
        except playwright_error():  # a navigation replaced the document mid-call: it is still changing
            quiet = None
        if quiet is False:
            return False
        if quiet and not traffic.pending:
            return True
        while (traffic.pending or quiet is None) and time.monotonic() < deadline:
            quiet = True
            await anyio.sleep(_POLL_S)  # bounded polling: requests end on the browser's schedule


async def _load(page, url: str, guard: RequestGuard, chromium: Chromium) -> tuple[int | None, list[str]]:
    settings = chromium.settings
    traffic = Traffic(page)
    status = await navigate(page, url, guard, settings.browse_page_timeout_s)
    notes = []
    if not await settle(page, traffic, settings.browse_settle_s):
        notes.append(f"The page was still changing after {settings.browse_settle_s:g} s; this is how it looked then.")
    ensure_not_refused(page, url, guard)
    return status, notes


def ensure_not_refused(page, url: str, guard: RequestGuard) -> None:
    """Raise `AccessDenied` when the page itself went (by a script or a redirect) where the policy refused to go.

    The browser then shows its own error page, which is not worth reading; the reply names what was refused.
    """
    if page.url.startswith(_ERROR_PAGE) and guard.blocked_count:
        raise AccessDenied(f"Refused {url}: it navigated to an address the URL policy blocks. {guard.note()}")


def _deadline(chromium: Chromium) -> float:
    return chromium.settings.browse_page_timeout_s + chromium.settings.browse_settle_s + _SLACK_S


async def render_page(chromium: Chromium, url: str) -> Rendered:
    try:
        async with chromium.page() as (page, guard):
            with anyio.fail_after(_deadline(chromium)):
                status, notes = await _load(page, url, guard, chromium)
                html = await page.content()  # its <title> is document.title, even when scripts set it
                ensure_not_refused(page, url, guard)  # again: a script may have navigated since the load
            if note := guard.note():
                notes.append(note)
            return Rendered(page.url, html, status, notes)
    except TimeoutError as exc:
        raise _hung(url, chromium) from exc
    except playwright_error() as exc:  # the page or browser went away mid-way
        raise _browser_error(exc, url, RequestGuard(chromium.policy)) from exc


async def screenshot(chromium: Chromium, url: str, full_page: bool) -> Shot:
    """A PNG of the viewport, or of the page's top-left up to the size limits; always under the byte limit."""
    settings = chromium.settings
    try:
        async with chromium.page() as (page, guard):
            with anyio.fail_after(_deadline(chromium)):
                _, notes = await _load(page, url, guard, chromium)
                viewport = settings.viewport
                size = (viewport["width"], viewport["height"])
                if full_page:
                    width, height = await page.evaluate(_PAGE_SIZE)
                    size = (max(int(width), 1), max(int(height), 1))
                png, width, height = await _shoot_within_limits(page, size, full_page, settings)
                title = await page.title()
                ensure_not_refused(page, url, guard)
            if note := guard.note():
                notes.append(note)
            return Shot(page.url, title, png, width, height, notes, page_width=size[0], page_height=size[1])
    except TimeoutError as exc:
        raise _hung(url, chromium) from exc
    except playwright_error() as exc:
        raise _browser_error(exc, url, RequestGuard(chromium.policy)) from exc


async def _shoot_within_limits(page, size: tuple[int, int], full_page: bool, settings) -> tuple[bytes, int, int]:
    """Shoot the top-left of the page cut to the size limits; retake it shorter while the PNG is over the byte limit.

    Only the clipped area is captured, so a page 30,000 px wide costs the browser no more than one within the limits.
    """
    width = min(size[0], settings.browse_screenshot_max_width) if full_page else size[0]
    height = min(size[1], settings.browse_screenshot_max_height) if full_page else size[1]
    max_bytes = int(settings.browse_screenshot_max_bytes)
    for _ in range(_RETAKES):
        clip: FloatRect = {"x": 0, "y": 0, "width": width, "height": height}
        png = await page.screenshot(type="png", full_page=full_page, clip=clip, scale="css")
        if len(png) <= max_bytes:
            return png, width, height
        # PNG size grows about linearly with the area; aim a little under the limit.
        height = int(height * max_bytes / len(png) * 0.9)
        if height < _MIN_SHOT_HEIGHT:
            break
    raise TooLarge(
        f"A screenshot of this page does not fit in {max_bytes:,} bytes (MEMENTO_BROWSE_SCREENSHOT_MAX_BYTES) even cut "
        "to a strip; read the page with fetch_page instead."
    )


def _hung(url: str, chromium: Chromium) -> TimedOut:
    return TimedOut(
        f"{url} kept the browser busy past {_deadline(chromium):g} s (its scripts never finished) and was closed. "
        "Try render='never' to read the HTML as served."
    )
