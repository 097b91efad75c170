"""Warm-up work (a conversion worker, the case bank, the extractor) held back until the server has listed its tools.

On two cores a warm-up thread started with the server halves the CPU the start itself gets, and the host
waits for `tools/list` before anything else. So each warm-up waits until this process has answered its
first `tools/list` (the runner's middleware says so) or `WARM_AFTER_S` has passed, whichever comes first.
It must not warm anything after its server has closed: `cancel` it on the way out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

__all__ = ["WARM_AFTER_S", "Warmup", "after_listing", "warm_later"]

log = logging.getLogger("memento.servers")

# A host that never lists (the agent's hub may read its catalogue from a cache) still gets warm servers soon.
WARM_AFTER_S = 1.0

# Process-wide: a server process serves one server; in-memory tests share it, where waking early is harmless.
_listed = threading.Event()


async def after_listing(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: once the first `tools/list` is answered, let the held-back warm-ups start."""
    result = await call_next(ctx)
    if ctx.method == "tools/list":
        _listed.set()
    return result


class Warmup:
    """One held-back warm-up on a daemon thread; `cancel()` stops it from starting if it has not yet."""

    def __init__(self, work: Callable[[], object], name: str, after_s: float = WARM_AFTER_S) -> None:
        self._work = work
        self._after_s = after_s
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        _listed.wait(self._after_s)
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
