"""One headless Chromium for the server's life, driven by Playwright; a fresh context per request.

The browser starts on first use (Playwright is imported then, not before), is
relaunched if it dies, and is closed with the server. Every connection it
makes goes through a `GuardProxy` of ours (one per context, so refusals are
reported to the request that caused them; one for the whole browser behind
them): Chromium resolves no name and opens no socket itself, and WebRTC may
not use UDP. Each request gets its own context (no cookies or storage shared
between requests) with the route guard naming blocked requests, service
workers blocked and the popup blocker on; at most `browse_max_pages` pages
work at once. The next request's context is
opened while the current one works (a new page costs more than most renders). A context is always closed, even
when its page hangs; if closing hangs too, the whole browser is replaced, so
no page or process outlives its request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio

from memento.servers.common.errors import ServerError
from memento.servers.common.urls import UrlPolicy

from .guard import RequestGuard
from .proxy import GuardProxy
from .settings import BrowseSettings

if TYPE_CHECKING:  # Playwright is imported when a browser is first needed, not before
    import asyncio

    from playwright.async_api import Browser, BrowserContext, Page, Playwright

__all__ = ["BrowserUnavailable", "Chromium", "CHROMIUM_ARGS", "close_soon", "playwright_error"]

log = logging.getLogger("memento.browse")

# Flags for a headless browser in a container: no sandbox (usually unavailable there), no GPU, and none of
# the background traffic (updates, sync, safe-browsing lists) a research tool has no use for.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebRTC would send STUN over UDP straight past the proxy; this keeps it to TCP through the proxy.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-quic",  # QUIC is UDP; with a proxy Chromium should not use it, and this makes sure
)
# Loopback is proxied too (Chromium would otherwise connect to it directly): the proxy decides.
_PROXY_BYPASS = "<-loopback>"
# Playwright turns Chromium's popup blocker off; keeping it on stops a page from opening windows on its own.
_KEEP_DEFAULTS_OFF = ["--disable-popup-blocking"]
_CLOSE_TIMEOUT_S = 10.0

# Pages read for their content have no use for new windows; a page opening thousands stays cheap.
NO_POPUPS = "Object.defineProperty(window, 'open', {value: () => null, writable: false, configurable: false});"


class BrowserUnavailable(ServerError):
    """Chromium could not be started."""


class Chromium:
    def __init__(self, settings: BrowseSettings, policy: UrlPolicy) -> None:
        self.settings = settings
        self.policy = policy
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launch_lock = anyio.Lock()
        self.slots = anyio.Semaphore(settings.browse_max_pages)
        self.launches = 0
        # A task opening the next request's context ahead of time.
        self._spare: asyncio.Task[tuple[BrowserContext, Page, RequestGuard]] | None = None
        self._closing = False
        # The proxy behind every context's own: what no context claims is still vetted.
        self.browser_guard = RequestGuard(policy)
        self._browser_proxy: GuardProxy | None = None
        self._proxies: dict[BrowserContext, GuardProxy] = {}

    def _proxy(self, guard: RequestGuard) -> GuardProxy:
        return GuardProxy(self.policy, guard.refused, self.settings.http_timeout_s)

    @property
    def running(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    @property
    def open_contexts(self) -> int:
        """Contexts in use by requests and sessions (the one made ahead of time not counted)."""
        task, browser = self._spare, self._browser
        if browser is None or not browser.is_connected():
            return 0
        spare = task is not None and task.done() and not task.cancelled() and task.exception() is None
        return max(0, len(browser.contexts) - int(spare))

    def holds(self, context: BrowserContext) -> bool:
        """Whether `context` is still open in the running browser."""
        browser = self._browser
        return browser is not None and browser.is_connected() and context in browser.contexts

    async def browser(self) -> Browser:
        """The running browser, launched (again) if it is not running."""
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._shutdown()
            try:
                from playwright.async_api import async_playwright

                if self._browser_proxy is None:
                    self._browser_proxy = await self._proxy(self.browser_guard).start()
                self._playwright = playwright = await async_playwright().start()
                self._browser = browser = await playwright.chromium.launch(
                    executable_path=self.settings.chromium_path or None,
                    headless=True,  # Playwright adds --headless itself
                    args=list(CHROMIUM_ARGS),
                    ignore_default_args=_KEEP_DEFAULTS_OFF,
                    # A socks5 proxy also makes Playwright map every host name to "not found" inside Chromium.
                    proxy={"server": self._browser_proxy.server, "bypass": _PROXY_BYPASS},
                    timeout=self.settings.browse_page_timeout_s * 1000 + 30_000,
                )
            except Exception as exc:
                await self._shutdown()
                where = self.settings.chromium_path or "Playwright's bundled Chromium"
                raise BrowserUnavailable(
                    f"Chromium could not start ({where}: {' '.join(str(exc).split())[:300]}). Install it "
                    "(Debian: apt-get install chromium; elsewhere: playwright install chromium and leave "
                    "MEMENTO_CHROMIUM_PATH empty), or read the page with render='never'."
                ) from exc
            self.launches += 1
            log.info("Chromium %s started", browser.version)
            return browser

    async def new_context(self, guard: RequestGuard, *, popups: bool = True) -> BrowserContext:
        """A fresh context with the guard installed and the page timeouts set; `popups=False` disables window.open."""
        browser = await self.browser()
        viewport = self.settings.viewport
        proxy = await self._proxy(guard).start()
        try:
            context = await browser.new_context(
                viewport={"width": viewport["width"], "height": viewport["height"]},
                user_agent=self.settings.browser_user_agent or None,  # None: Chromium's own, which sites expect of a browser
                service_workers="block",  # a reader has no use for them (their requests go through the proxy all the same)
                accept_downloads=False,
                proxy={"server": proxy.server, "bypass": _PROXY_BYPASS},
            )
        except BaseException:
            await proxy.close()
            raise
        self._proxies[context] = proxy
        try:
            timeout_ms = self.settings.browse_page_timeout_s * 1000
            context.set_default_timeout(timeout_ms)
            context.set_default_navigation_timeout(timeout_ms)
            if not popups:
                await context.add_init_script(NO_POPUPS)
            await guard.install(context)
        except BaseException:
            await self.dispose(context)
            raise
        return context

    async def _fresh(self) -> tuple[BrowserContext, Page, RequestGuard]:
        """A new context with one page in it; popups of that page are closed as they open."""
        guard = RequestGuard(self.policy)
        context = await self.new_context(guard, popups=False)
        try:
            page = await context.new_page()
        except BaseException:
            await self.dispose(context)
            raise
        context.on("page", lambda popup: None if popup is page else close_soon(popup))
        return context, page, guard

    async def _take_spare(self) -> tuple[BrowserContext, Page, RequestGuard] | None:
        """The context made ahead of time, if it is ready and still belongs to the running browser."""
        task, self._spare = self._spare, None
        if task is None:
            return None
        try:
            context, page, guard = await task
        except Exception:
            return None
        if self.holds(context):
            return context, page, guard
        return None  # made for a browser that has since gone

    def _make_spare(self) -> None:
        """Start opening the next request's context now: opening a page costs more than most renders."""
        import asyncio

        if self._spare is None and self.running and not self._closing:
            self._spare = spare = asyncio.get_running_loop().create_task(self._fresh())
            spare.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning

    @asynccontextmanager
    async def page(self) -> AsyncIterator[tuple[Page, RequestGuard]]:
        """A page in its own fresh context for one request, closed afterwards whatever happens."""
        async with self.slots:
            context, page, guard = await self._take_spare() or await self._fresh()
            self._make_spare()
            try:
                yield page, guard
            finally:
                await self.dispose(context)

    async def dispose(self, context: BrowserContext) -> None:
        """Close a context whatever state its pages are in; replace the browser if even that fails."""
        with anyio.CancelScope(shield=True):
            try:
                await self._close_context(context)
            finally:
                proxy = self._proxies.pop(context, None)
                if proxy is not None:
                    await proxy.close()

    async def _close_context(self, context: BrowserContext) -> None:
        try:
            with anyio.fail_after(_CLOSE_TIMEOUT_S):
                await context.close()
            return
        except Exception as exc:
            if not self.holds(context):
                return  # its browser is gone already, and the context with it
            log.warning("a browser context did not close (%s); restarting Chromium", type(exc).__name__)
        async with self._launch_lock:
            await self._shutdown()

    async def _shutdown(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        with anyio.CancelScope(shield=True):
            if browser is not None:
                try:
                    with anyio.fail_after(_CLOSE_TIMEOUT_S):
                        await browser.close()
                except Exception as exc:
                    log.warning("Chromium did not close cleanly: %s", exc)
            if playwright is not None:
                try:
                    with anyio.fail_after(_CLOSE_TIMEOUT_S):
                        await playwright.stop()  # ends the driver, which kills a browser that is still there
                except Exception as exc:
                    log.warning("the Playwright driver did not stop cleanly: %s", exc)
            proxies, self._proxies = list(self._proxies.values()), {}
            for proxy in proxies:  # the contexts went with the browser
                await proxy.close()

    async def close(self) -> None:
        self._closing = True
        spare = await self._take_spare()
        if spare is not None:
            await self.dispose(spare[0])
        async with self._launch_lock:
            await self._shutdown()
            proxy, self._browser_proxy = self._browser_proxy, None
            if proxy is not None:
                await proxy.close()


_closing: set = set()  # strong references, so a pending close is not garbage-collected mid-way


def close_soon(popup) -> None:
    import asyncio

    async def close() -> None:
        try:
            await popup.close()
        except Exception:  # already gone with its context
            pass

    task = asyncio.get_running_loop().create_task(close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def playwright_error() -> type[Exception]:
    """Playwright's base error class, imported only once a browser is in use."""
    from playwright.async_api import Error

    return Error
