"""A base for wrappers of an MCP transport's read stream: everything but `receive` passed to the inner stream.

The agent's hub (noticing a server's death) and the servers' runner (answering
malformed lines) each wrap a read stream and change only what `receive` does.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import anyio

__all__ = ["ReadStreamWrapper"]


class ReadStreamWrapper:
    """Iterable, closable and usable as a context manager like the stream it wraps; attributes pass through."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def receive(self) -> Any:
        return await self._inner.receive()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:  # e.g. `last_context`, which the SDK's dispatcher reads when present
        return getattr(self._inner, name)
