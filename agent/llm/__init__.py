"""Chat models behind one contract: `Model.generate(system, messages, tools) -> Reply`.

Planner and executor import from here only, never a vendor SDK; `make_model`
imports the vendor's SDK when its model is made.
"""

from .base import ImagePart, Message, Model, OpaquePart, Part, Reply, TextPart, ToolCall, ToolResultPart, ToolSpec, Usage
from .pricing import cost
from .registry import check_configured, context_window, make_model, parse_spec

__all__ = [
    "ImagePart",
    "Message",
    "Model",
    "OpaquePart",
    "Part",
    "Reply",
    "TextPart",
    "ToolCall",
    "ToolResultPart",
    "ToolSpec",
    "Usage",
    "check_configured",
    "context_window",
    "cost",
    "make_model",
    "parse_spec",
]
