"""Chat models behind one contract: `Model.generate(system, messages, tools) -> Reply`.

Planner and executor import from here only, never a vendor SDK.
"""

from .base import ImagePart, Message, Model, OpaquePart, Part, Reply, TextPart, ToolCall, ToolResultPart, ToolSpec, Usage

__all__ = ["ImagePart", "Message", "Model", "OpaquePart", "Part", "Reply", "TextPart", "ToolCall", "ToolResultPart", "ToolSpec", "Usage"]
