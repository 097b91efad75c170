"""Interactive browsing: one browser context per MCP session, kept between calls.

A session holds its context (cookies and history of its own), its tabs (a
popup a click opens becomes the current tab, up to `browse_max_tabs`; more
are closed) and its last snapshot, so refs and pagination refer to one view
of the page. Sessions unused for `browse_session_idle_s` are closed on the
next call; at most `browse_max_sessions` live at once. Every action has a
deadline; a page that hangs takes its session down with it, not the server.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from memento.servers.common.errors import AccessDenied, InvalidInput, NotFound, TimedOut, TooLarge

from .browser import Chromium, close_soon, playwright_error
from .guard import RequestGuard
from .rendering import Traffic, ensure_not_refused, navigate, settle
from .snapshot import compact

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

__all__ = ["Session", "Sessions", "View"]

log = logging.getLogger("memento.browse")
_SLACK_S = 5.0
_IS_TEXT_FIELD = """el => el.isContentEditable || el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' &&
  !['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'image', 'range', 'color', 'hidden'].includes(el.type))"""
_REF = re.compile(r"[a-z]+\d+(?:e\d+)?")  # e12, or f1e3 inside a frame


@dataclass
class View:
    """What a model sees after an action: where the page is, and its snapshot."""

    url: str
    title: str
    snapshot: str
    tabs: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Session:
    key: str
    context: BrowserContext
    guard: RequestGuard
    tabs: list[Page] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)
    snapshot: str = ""
    lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def page(self):
        return self.tabs[-1]


class Sessions:
    def __init__(self, chromium: Chromium) -> None:
        self.chromium = chromium
        self.settings = chromium.settings
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    async def reap(self) -> None:
        """Close sessions idle longer than the limit."""
        limit = self.settings.browse_session_idle_s
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if now - s.last_used > limit and not s.lock.locked()]:
            log.info("closing browser session idle for over %g s", limit)
            await self.close(key)

    def get(self, key: str) -> Session:
        session = self._sessions.get(key)
        if session is None:
            raise NotFound("No page is open in this session: call browser_open(url) first.")
        session.last_used = time.monotonic()
        return session

    async def _create(self, key: str) -> Session:
        await self.reap()
        if len(self._sessions) >= self.settings.browse_max_sessions:
            raise TooLarge(
                f"{len(self._sessions)} browser sessions are open, the limit (MEMENTO_BROWSE_MAX_SESSIONS). "
                "Close one with browser_close, or wait for idle ones to expire."
            )
        guard = RequestGuard(self.chromium.policy)
        context = await self.chromium.new_context(guard)
        session = Session(key, context, guard)
        try:
            session.tabs.append(await context.new_page())
        except BaseException:
            await self.chromium.dispose(context)
            raise
        context.on("page", lambda popup: self._on_popup(session, popup))
        self._sessions[key] = session
        return session

    def _on_popup(self, session: Session, popup) -> None:
        if popup in session.tabs:
            return
        if len(session.tabs) >= self.settings.browse_max_tabs:
            close_soon(popup)
            return
        session.tabs.append(popup)
        popup.on("close", lambda closed: session.tabs.remove(closed) if closed in session.tabs else None)

    async def close(self, key: str) -> bool:
        session = self._sessions.pop(key, None)
        if session is None:
            return False
        await self.chromium.dispose(session.context)
        return True

    async def close_all(self) -> None:
        for key in list(self._sessions):
            await self.close(key)

    async def act(self, key: str, action, *, create: bool = False, verbose: bool = False) -> View:
        """Run `action(session)` under the session's lock, a browser slot and a deadline; return the new view."""
        await self.reap()
        session = await self._create(key) if create and key not in self._sessions else self.get(key)
        deadline = self.settings.browse_page_timeout_s + self.settings.browse_settle_s * 2 + _SLACK_S
        async with session.lock, self.chromium.slots:
            try:
                with anyio.fail_after(deadline):
                    notes = list(await action(session) or [])
                    return await self._view(session, notes, verbose)
            except TimeoutError as exc:
                await self.close(key)
                raise TimedOut(
                    f"The page kept the browser busy for over {deadline:g} s (its scripts never finished); "
                    "the session was closed. Call browser_open to start again."
                ) from exc
            except TimedOut as exc:  # a page that never loads holds its tab hostage: start afresh next time
                await self.close(key)
                raise TimedOut(f"{exc} The browser session was closed; browser_open starts a new one.") from exc
            except playwright_error() as exc:
                if not self.chromium.holds(session.context):
                    self._sessions.pop(key, None)  # the browser went away under this session
                raise InvalidInput(f"The browser could not do that: {' '.join(str(exc).split())[:300]}") from exc
            finally:
                session.last_used = time.monotonic()

    async def last_view(self, key: str) -> View:
        """The snapshot taken last in this session, to page through it without taking a new one."""
        session = self.get(key)
        if not session.snapshot:
            raise NotFound("No snapshot was taken in this session yet: call browser_snapshot() first.")
        page = session.page
        return View(page.url, await page.title(), session.snapshot, len(session.tabs))

    async def _view(self, session: Session, notes: list[str], verbose: bool) -> View:
        page = session.page
        raw = await page.aria_snapshot(mode="ai", timeout=self.settings.browse_page_timeout_s * 1000)
        try:  # after the snapshot, so a script navigating meanwhile is caught too
            ensure_not_refused(page, "the page", session.guard)
        except AccessDenied as exc:
            session.guard.reset()
            raise AccessDenied(f"{exc} browser_back returns to the page before.") from exc
        session.snapshot = compact(raw, verbose=verbose)
        if note := session.guard.note():
            notes.append(note)
            session.guard.reset()
        return View(page.url, await page.title(), session.snapshot, len(session.tabs), notes)

    # The actions. Each returns notes for the reply; the view is taken by `act`.

    async def look(self, session: Session) -> list[str]:
        return []

    async def goto(self, session: Session, url: str) -> list[str]:
        traffic = Traffic(session.page)
        await navigate(session.page, url, session.guard, self.settings.browse_page_timeout_s)
        return await self._settled(session, traffic)

    async def click(self, session: Session, ref: str) -> list[str]:
        before = session.page
        traffic = Traffic(before)
        locator = await self._locate(session, ref)
        await locator.click(timeout=self.settings.browse_action_timeout_s * 1000)
        notes = await self._settled(session, traffic)
        if session.page is not before:
            notes.append("The click opened a new tab; it is now the current page (browser_back closes it).")
            notes += await self._settled(session, Traffic(session.page))
        return notes

    async def type(self, session: Session, ref: str, text: str, submit: bool) -> list[str]:
        traffic = Traffic(session.page)
        locator = await self._locate(session, ref)
        timeout = self.settings.browse_action_timeout_s * 1000
        if not await locator.evaluate(_IS_TEXT_FIELD, timeout=timeout):
            raise InvalidInput(f"Element {ref} is not a text field one can type into; pick a textbox or searchbox ref.")
        await locator.fill(text, timeout=timeout)
        if submit:
            await locator.press("Enter", timeout=timeout)
        return await self._settled(session, traffic)

    async def back(self, session: Session) -> list[str]:
        page = session.page
        before = page.url
        traffic = Traffic(page)
        response = await page.go_back(wait_until="domcontentloaded")
        if response is None and page.url == before:  # no earlier page in this tab
            if len(session.tabs) > 1:
                await page.close()
                if page in session.tabs:
                    session.tabs.remove(page)
                return ["Closed this tab; back on the page that opened it."]
            return ["There is no earlier page in this session; the page is unchanged."]
        if page.url == "about:blank" and before != "about:blank":  # the empty page a session starts on
            await page.go_forward(wait_until="domcontentloaded")
            return ["There is no earlier page in this session; the page is unchanged."]
        return await self._settled(session, traffic)

    async def _locate(self, session: Session, ref: str):
        ref = ref.strip().strip("[]").removeprefix("ref=")
        if not _REF.fullmatch(ref):
            raise InvalidInput(f"{ref!r} is not an element ref; use one shown in the snapshot, like e12.")
        locator = session.page.locator(f"aria-ref={ref}")
        if await locator.count() == 0:
            raise InvalidInput(f"No element {ref} on the current page; the page may have changed. Take a new browser_snapshot.")
        return locator

    async def _settled(self, session: Session, traffic: Traffic) -> list[str]:
        if await settle(session.page, traffic, self.settings.browse_settle_s):
            return []
        return [f"The page was still changing after {self.settings.browse_settle_s:g} s."]
