"""A base for wrappers of an MCP transport's read stream: everything but `receive` passed to the inner stream.

The agent's hub (noticing a server's death) and the servers' runner (answering
malformed lines) each wrap a read stream and change only what `receive` does.
`ReadStream`/`WriteStream` describe the SDK's transport streams by their shape,
so no code imports the SDK's private stream module.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import anyio

__all__ = ["ReadStream", "ReadStreamWrapper", "WriteStream"]

T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)


class ReadStream(Protocol[T_co]):
    """What an MCP transport reads from: anyio's receive stream, by shape."""

    async def receive(self) -> T_co: ...
    async def aclose(self) -> None: ...
    def __aiter__(self) -> ReadStream[T_co]: ...
    async def __anext__(self) -> T_co: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None: ...


class WriteStream(Protocol[T_contra]):
    """What an MCP transport writes to: anyio's send stream, by shape."""

    async def send(self, item: T_contra, /) -> None: ...
    async def aclose(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None: ...


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
