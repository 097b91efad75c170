"""What every server's tool layer shares: the server and its lifespan, tool registration, annotations,
paging arguments, the reply builder.

`server.py` modules build their server with `server_with_lifespan`, register
tools with `tool` and read shared resources with `lifespan_state`;
`present.py` modules build their replies with `tool_result`. Nothing here does
a tool's work or phrases its text.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from .errors import tool_errors

__all__ = [
    "READ_ONLY_CLOSED_WORLD",
    "READ_ONLY_OPEN_WORLD",
    "Image",
    "MaxLength",
    "StartIndex",
    "lifespan_state",
    "server_with_lifespan",
    "tool",
    "tool_result",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Reads what lies outside the server (the web, user files, search engines) and changes nothing.
READ_ONLY_OPEN_WORLD = ToolAnnotations(read_only_hint=True, open_world_hint=True, idempotent_hint=True)
# Reads only what the server itself holds (its workspace, its index, its memory) and changes nothing.
READ_ONLY_CLOSED_WORLD = ToolAnnotations(read_only_hint=True, open_world_hint=False, idempotent_hint=True)

# The two arguments of every paginating tool; the reply's closing note names the next start_index.
StartIndex = Annotated[int, Field(ge=0, description="Character offset to start at; use the value the previous reply names.")]
MaxLength = Annotated[int, Field(ge=100, le=1_000_000, description="Most characters to return in this reply.")]


@dataclass(frozen=True)
class Image:
    """An image for a reply: base64 data and its media type."""

    data: str
    mime_type: str = "image/png"

    @classmethod
    def from_bytes(cls, raw: bytes, mime_type: str = "image/png") -> Image:
        """An image from its raw bytes."""
        return cls(base64.b64encode(raw).decode("ascii"), mime_type)


def tool_result(text: str, structured: BaseModel | None = None, images: Sequence[Image] = (), *, is_error: bool = False) -> CallToolResult:
    """A tool's reply: the text a model reads, then any images, with the typed result as structured content."""
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    content += [ImageContent(type="image", data=image.data, mime_type=image.mime_type) for image in images]
    return CallToolResult(
        content=content,
        structured_content=structured.model_dump(mode="json") if structured is not None else None,
        is_error=is_error,
    )


def lifespan_state(ctx: Context[Any, Any], kind: type[T]) -> T:
    """What the server's lifespan yielded, checked to be a `kind`: how a tool reaches its shared resources."""
    state = ctx.request_context.lifespan_context
    if not isinstance(state, kind):
        # Only a wiring mistake gets here (a lifespan yielding something else), never a model's input.
        raise TypeError(f"the lifespan yielded {type(state).__name__}, not {kind.__name__}")
    return state


def server_with_lifespan(
    name: str, instructions: str, running: Callable[[], AbstractAsyncContextManager[Any] | AbstractContextManager[Any]]
) -> MCPServer:
    """A server whose lifespan enters `running()` and hands what it yields to the tools (read with `lifespan_state`).

    `running` opens the shared resources per run of the server, not at build time: an async context manager
    (an HTTP client, a browser) or a plain one (`contextlib.closing(service)`); leaving it releases them.
    """

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[Any]:
        async with AsyncExitStack() as stack:
            resources = running()
            if isinstance(resources, AbstractAsyncContextManager):
                yield await stack.enter_async_context(resources)
            else:
                yield stack.enter_context(resources)

    return MCPServer(name, instructions=instructions, lifespan=lifespan)


def tool(server: MCPServer, annotations: ToolAnnotations | None = None) -> Callable[[F], F]:
    """Register a function as one of `server`'s tools; its failures reach the model as tool errors (`tool_errors`)."""

    def register(fn: F) -> F:
        server.tool(annotations=annotations)(tool_errors(fn))
        return fn

    return register
