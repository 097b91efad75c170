"""The URL policy inside the browser, as a page sees it: what it may load, and what it was refused.

Installed on each browser context with route interception: the page's own
requests (documents, frames, scripts, images, fetches, WebSockets) pass
`check_url` (with the pinned resolver) or are aborted before they leave, so a
reply can name the full URL. Route interception does not see redirect hops or
workers' requests; those are stopped by the context's `GuardProxy`, which
reports its refusals here (`refused`). Blocked URLs are kept (the first few)
so a reply can say what the page was not allowed to load.
"""

from __future__ import annotations

import logging
import re

from memento.servers.common.errors import ServerError
from memento.servers.common.netguard import check_url_async
from memento.servers.common.urls import UrlPolicy

__all__ = ["RequestGuard"]

log = logging.getLogger("memento.browse")

_ANY = re.compile(r".*")
_KEEP_BLOCKED = 20
_LOCAL_SCHEMES = ("data:", "blob:", "about:")


class RequestGuard:
    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        self.blocked: list[str] = []
        self.blocked_count = 0
        self.proxy_refusals = 0  # connections refused by the proxy, past route interception

    def refused(self, target: str, reason: str) -> None:
        """Record a connection the proxy refused (a redirect hop, a worker's request, a socket)."""
        self._record(target)
        self.proxy_refusals += 1

    def _record(self, target: str) -> None:
        self.blocked_count += 1
        if len(self.blocked) < _KEEP_BLOCKED:
            self.blocked.append(target)

    async def allows(self, url: str) -> bool:
        if url.startswith(_LOCAL_SCHEMES):
            return True  # served by the browser itself, never from the network
        target = url
        if url.startswith(("ws://", "wss://")):
            target = "http" + url[2:]
        try:
            await check_url_async(target, self.policy)
        except ServerError as exc:
            self._record(url)
            log.info("browser request blocked: %s (%s)", url[:200], exc)
            return False
        return True

    async def install(self, context) -> None:
        await context.route(_ANY, self._on_request)
        await context.route_web_socket(_ANY, self._on_websocket)

    async def _on_request(self, route) -> None:
        try:
            if await self.allows(route.request.url):
                await route.continue_()
            else:
                await route.abort("blockedbyclient")
        except Exception as exc:  # the page or context closed while the request waited: nothing to route
            log.debug("route for %s ended: %s", route.request.url[:200], exc)

    async def _on_websocket(self, websocket) -> None:
        try:
            if await self.allows(websocket.url):
                websocket.connect_to_server()
            else:
                await websocket.close(code=1008, reason="blocked by URL policy")
        except Exception as exc:
            log.debug("websocket route for %s ended: %s", websocket.url[:200], exc)

    def reset(self) -> None:
        """Forget the blocked requests already reported."""
        self.blocked.clear()
        self.blocked_count = 0
        self.proxy_refusals = 0

    def note(self) -> str | None:
        if not self.blocked_count:
            return None
        shown = ", ".join(self.blocked[:5])
        more = f" and {self.blocked_count - 5} more" if self.blocked_count > 5 else ""
        return f"{self.blocked_count} request(s) of this page were blocked by the URL policy: {shown}{more}."
