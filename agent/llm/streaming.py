"""Seeing a model's reply grow while it streams, without changing the `Model` contract.

Whoever makes a call (the progress display, a benchmark) wraps it in
`watching(listener)`; a streaming provider calls `streamed(n)` with the pieces
received so far. Context-local, so concurrent calls each tell their own
listener. Nothing here knows a vendor or draws anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["StreamListener", "streamed", "watching"]

# Called with the number of streamed pieces (text or tool-call deltas, about one token each) received so far.
StreamListener = Callable[[int], None]

_listener: ContextVar[StreamListener | None] = ContextVar("memento_stream_listener", default=None)


@contextmanager
def watching(listener: StreamListener) -> Iterator[None]:
    """Tell `listener` how a reply grows, for the model calls made inside this block."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def streamed(pieces: int) -> None:
    """A provider's report: `pieces` received so far in the current call (nothing happens when no one watches)."""
    listener = _listener.get()
    if listener is not None:
        listener(pieces)
