"""What every server's tool layer shares: the server and its lifespan, tool registration, annotations,
paging arguments, the reply builder.

`server.py` modules build their server with `server_with_lifespan`, register
tools with `tool` (with the `Probe` that `memento servers check` calls, when the
tool is harmless) and read shared resources with `lifespan_state`;
`present.py` modules build their replies with `tool_result`; `call_inputs` reads
the one folder of attachments a host confines a call to. Nothing here does a
tool's work or phrases its text.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from .errors import AccessDenied, tool_errors

__all__ = [
    "INPUTS_META",
    "PROBE_META",
    "Probe",
    "READ_ONLY_CLOSED_WORLD",
    "READ_ONLY_OPEN_WORLD",
    "Image",
    "MaxLength",
    "StartIndex",
    "call_inputs",
    "lifespan_state",
    "server_with_lifespan",
    "tool",
    "tool_result",
]

T = TypeVar("T")

# The request `_meta` key by which a host (the agent's hub, for one eval task) confines a call to one folder of
# attachments. A host sets it, never a model: models only fill in `arguments`.
INPUTS_META = "memento/inputs"
F = TypeVar("F", bound=Callable[..., Any])

# The tool `_meta` key holding the call `memento servers check` makes to see a server work. It travels in
# tools/list, so a checker reads it over MCP from any server, bundled or not; other hosts ignore the key.
PROBE_META = "memento/probe"

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


@dataclass(frozen=True)
class Probe:
    """A harmless call of one tool that shows the server works: its arguments and a text the reply must contain."""

    arguments: dict[str, Any]
    expect: str

    def meta(self) -> dict[str, Any]:
        """The tool `_meta` entry declaring this probe."""
        return {PROBE_META: {"arguments": self.arguments, "expect": self.expect}}


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


def call_inputs(ctx: Context[Any, Any], allowed: list[Path]) -> Path | None:
    """The folder this call is confined to (`_meta["memento/inputs"]`), or None when the host set none.

    It can only narrow what the server may read: the folder must lie inside one of `allowed` (the server's own
    configured folders), else the call is refused.
    """
    meta = ctx.request_context.meta or {}
    raw = meta.get(INPUTS_META)
    if raw is None:
        return None
    folder = Path(os.path.realpath(str(raw)))
    inside = any(folder == root or folder.is_relative_to(root) for root in (Path(os.path.realpath(r)) for r in allowed))
    if not isinstance(raw, str) or not os.path.isabs(raw) or not inside or not folder.is_dir():
        where = ", ".join(str(r) for r in allowed) or "none configured"
        raise AccessDenied(f"The host confined this call to {raw!r}, which is not a folder inside this server's own ({where}).")
    return folder


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


def tool(server: MCPServer, annotations: ToolAnnotations | None = None, probe: Probe | None = None) -> Callable[[F], F]:
    """Register a function as one of `server`'s tools; its failures reach the model as tool errors (`tool_errors`).

    `probe`: the call `memento servers check` makes to see the server work (one harmless tool per server).
    """

    def register(fn: F) -> F:
        server.tool(annotations=annotations, meta=probe.meta() if probe else None)(tool_errors(fn))
        return fn

    return register
