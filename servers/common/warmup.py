"""Warm-up work (a conversion worker, the case bank, the extractor) held back until the server has listed its tools.

On two cores a warm-up thread started with the server halves the CPU the start itself gets, and the host
waits for `tools/list` before anything else. So each warm-up waits until this process has sent its first
`tools/list` reply (on stdio `ListedWhenSent` sees it leave; over HTTP the `after_listing` middleware sees it
made) or `WARM_AFTER_S` has passed, whichever comes first. Waiting for the reply to leave matters: a warm-up
importing Chroma holds module import locks the reply's path may need. It must not warm anything after its
server has closed: `cancel` it on the way out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError, JSONRPCRequest, JSONRPCResponse, RequestId

from memento.core.streams import WriteStream

__all__ = ["WARM_AFTER_S", "ListedWhenSent", "Warmup", "after_listing", "warm_later"]

log = logging.getLogger("memento.servers")

# A host that never lists (the agent's hub may read its catalogue from a cache) still gets warm servers soon.
WARM_AFTER_S = 1.0
# After the reply is handed to the transport, time for it to be written and read: a warm-up loading extension
# modules (Chroma's, numpy) holds the interpreter for long stretches, which would hold the reply back with it.
GRACE_S = 0.2

# Process-wide: a server process serves one server; in-memory tests share it, where waking early is harmless.
_listed = threading.Event()


async def after_listing(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: once the first `tools/list` is answered, let the held-back warm-ups start."""
    result = await call_next(ctx)
    if ctx.method == "tools/list":
        _listed.set()
    return result


class ListedWhenSent:
    """A server's write stream that lets the warm-ups start once the reply to a `tools/list` has been handed on.

    The read side calls `expect` with each incoming message, so the reply is known by its request's id.
    """

    def __init__(self, inner: WriteStream[SessionMessage]) -> None:
        self._inner = inner
        self._pending: set[RequestId] = set()

    def expect(self, message: object) -> None:
        if isinstance(message, JSONRPCRequest) and message.method == "tools/list" and not _listed.is_set():
            self._pending.add(message.id)

    async def send(self, item: SessionMessage) -> None:
        await self._inner.send(item)
        reply = item.message
        if self._pending and isinstance(reply, JSONRPCResponse | JSONRPCError) and reply.id in self._pending:
            self._pending.clear()
            _listed.set()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Warmup:
    """One held-back warm-up on a daemon thread; `cancel()` stops it from starting if it has not yet."""

    def __init__(self, work: Callable[[], object], name: str, after_s: float = WARM_AFTER_S) -> None:
        self._work = work
        self._after_s = after_s
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if _listed.wait(self._after_s):
            self._cancelled.wait(GRACE_S)
        if self._cancelled.is_set():
            return
        try:
            self._work()
        except Exception:  # a warm-up is an optimisation: the first call does the work again and reports its failure
            log.warning("warm-up %s failed", self._thread.name, exc_info=True)

    def cancel(self) -> None:
        self._cancelled.set()


def warm_later(work: Callable[[], object], name: str) -> Warmup:
    """Run `work` on a daemon thread once the server has listed its tools (or after `WARM_AFTER_S`)."""
    return Warmup(work, name)
