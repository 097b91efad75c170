"""What a tool call gave back, as a model reads it: `ToolOutcome`, built from an MCP `CallToolResult`.

Text blocks are joined, images kept, other content named in a line, and long text cut with a note saying how to
read the rest. It talks to no server (hub.py does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .llm import ImagePart

if TYPE_CHECKING:
    import mcp_types as types

__all__ = ["ToolOutcome", "outcome_of"]


@dataclass
class ToolOutcome:
    """What one call gave back, ready for the model; failures are outcomes with `is_error`, never exceptions."""

    text: str
    images: list[ImagePart] = field(default_factory=list)
    structured: dict[str, Any] | None = None
    is_error: bool = False
    server: str = ""
    tool: str = ""
    seconds: float = 0.0
    truncated: bool = False
    restarted: bool = False  # the server died and was restarted for this call (the call is never replayed)


def outcome_of(result: types.CallToolResult, cap: int, restarted: bool = False) -> ToolOutcome:
    """A call's result as the model reads it: text blocks joined, images kept, the rest named, cut at `cap` characters."""
    import mcp_types as types  # loaded with the client that made the call; not on the path to a run's first request

    texts: list[str] = []
    images: list[ImagePart] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        elif isinstance(block, types.ImageContent):
            images.append(ImagePart(block.data, block.mime_type))
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, types.TextResourceContents):
                texts.append(resource.text)
            else:
                texts.append(f"[binary resource {resource.uri} ({resource.mime_type or 'unknown type'}) not shown]")
        elif isinstance(block, types.ResourceLink):
            texts.append(f"[resource {block.name}: {block.uri}]")
        else:
            texts.append(f"[{block.type} content not shown]")
    structured = result.structured_content
    text = "\n".join(texts)
    if not text and structured is not None:  # a structured-only reply still has to reach the model as text
        text = json.dumps(structured, ensure_ascii=False)
    text, truncated = _cut(text, cap)
    return ToolOutcome(text, images, structured, bool(result.is_error), truncated=truncated, restarted=restarted)


def _cut(text: str, cap: int) -> tuple[str, bool]:
    if len(text) <= cap:
        return text, False
    note = (
        f"\n\n[Cut here: {len(text) - cap:,} of {len(text):,} characters were left out (limit {cap:,}). "
        "Ask for a smaller part, e.g. with start_index/max_length, or write the output to a file and read it in parts.]"
    )
    return text[:cap] + note, True
