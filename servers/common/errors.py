"""The one place a tool's failures become MCP tool errors.

Servers raise `ServerError`s (never return error strings; the classes live in
`memento.core.errors`, re-exported here); `tool_errors` turns them into
`ToolError`, which the SDK sends back as an `isError` result whose text the
model reads. Unexpected exceptions are logged with their traceback on stderr
and reach the model as one line, so a tool never crashes its server.

A message that quotes the caller's input quotes it through `shown`, and
`tool_errors` cuts any message past `MAX_MESSAGE` characters: a model that
sends megabytes must not get them back in the error.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError

from memento.core.errors import (
    AccessDenied,
    ConversionFailed,
    FetchFailed,
    InvalidInput,
    MementoError,
    NotFound,
    ServerError,
    TimedOut,
    TooLarge,
    UnsupportedFormat,
)
from memento.core.quoting import shown

__all__ = [
    "AccessDenied",
    "ConversionFailed",
    "FetchFailed",
    "InvalidInput",
    "NotFound",
    "ServerError",
    "TimedOut",
    "TooLarge",
    "UnsupportedFormat",
    "shown",
    "tool_errors",
]

log = logging.getLogger("memento.servers")

# Longest error text a tool sends back; past it the message is cut with a note saying so.
MAX_MESSAGE = 4_000

P = ParamSpec("P")
R = TypeVar("R")


@overload
def tool_errors(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]: ...
@overload
def tool_errors(fn: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]: ...
def tool_errors(fn: Callable[P, Any]) -> Callable[P, Coroutine[Any, Any, Any]]:
    """Wrap a tool so every failure reaches the model as a tool error, never a crash.

    Sync tools run on a worker thread so a slow one never blocks the event loop.
    The wrapper keeps the signature, so the SDK still derives the input schema.
    """
    is_async = inspect.iscoroutinefunction(fn)

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            if is_async:
                return await fn(*args, **kwargs)
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
        except ToolError:
            raise
        except MementoError as exc:  # ServerError and every other area
            # Every MementoError says what to do next (a setting to fix, a model to configure): pass it on.
            raise ToolError(_bounded(str(exc))) from exc
        except Exception as exc:
            log.exception("tool %s failed unexpectedly", fn.__name__)
            raise ToolError(
                f"Internal error in {fn.__name__} ({type(exc).__name__}: {_one_line(exc)}). "
                "The server is still running; the input may be unusual - try other arguments "
                "or another source."
            ) from exc

    # Tool descriptions are docstrings; hosts show them as they are, so drop the code indentation.
    wrapper.__doc__ = inspect.cleandoc(fn.__doc__) if fn.__doc__ else None
    return wrapper


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}… [error message cut: {len(message) - MAX_MESSAGE:,} more characters]"
