"""One conversation shape and one `Model` contract for every vendor.

The planner and the executor build `Message`s of neutral parts and call
`Model.generate(...)`, which returns a `Reply`; each provider module turns
these into its vendor's request and the vendor's answer back. Nothing here
imports a vendor SDK.

A provider must:
- send `system` and `tools` as the stable prefix (and cache it where the vendor can);
- return the assistant turn as `Reply.message`, with any vendor-specific parts
  (Anthropic thinking blocks) kept in `OpaquePart`s, so that appending it to the
  history and calling again passes them back unchanged;
- raise `ModelFailed` (from `memento.core.errors`) once its retries are spent,
  and never put a key or an `Authorization` value in a message or a log.
"""

from __future__ import annotations

from dataclasses import asdict, astuple, dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

__all__ = [
    "CallOptions",
    "ImagePart",
    "Message",
    "Model",
    "OpaquePart",
    "Part",
    "Reply",
    "TextPart",
    "ToolCall",
    "ToolChoice",
    "ToolResultPart",
    "ToolSpec",
    "Usage",
    "callable_tools",
]

# auto: the model may call a tool; any: it must call one; none: it must not.
ToolChoice = Literal["auto", "any", "none"]


class CallOptions(TypedDict, total=False):
    """The keyword options of `Model.generate`, for a model that takes them as `**options: Unpack[CallOptions]`."""

    tool_choice: ToolChoice
    max_tokens: int | None
    allowed: tuple[str, ...] | None


@dataclass(frozen=True)
class ToolSpec:
    """A tool a model may call: its name (`^[a-zA-Z0-9_-]{1,64}$`), description and JSON Schema of its input."""

    name: str
    description: str
    input_schema: dict[str, Any]


def callable_tools(tools: list[ToolSpec], *, tool_choice: ToolChoice, allowed: tuple[str, ...] | None) -> list[ToolSpec]:
    """The tools a reply may call: those of `tools` that `allowed` names (all when it is None).

    With tool_choice none they all stay: a history with tool calls needs its tools defined (Anthropic refuses it
    otherwise), and none is enforced by the choice.
    """
    if allowed is None or tool_choice == "none":
        return list(tools)
    return [t for t in tools if t.name in allowed]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image for the model's eyes: base64 data and its MIME type (image/png, image/jpeg…)."""

    data: str
    mime_type: str


@dataclass(frozen=True)
class ToolCall:
    """The model asks for a tool: `id` pairs the call with its result."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolResultPart:
    """What a tool call gave back, sent in the next user turn; `is_error` marks a failed call."""

    call_id: str
    text: str
    images: tuple[ImagePart, ...] = ()
    is_error: bool = False


@dataclass(frozen=True)
class OpaquePart:
    """A vendor-specific block (e.g. an Anthropic thinking block) passed back exactly as received."""

    provider: str
    data: dict[str, Any]


Part = TextPart | ImagePart | ToolCall | ToolResultPart | OpaquePart


@dataclass
class Message:
    """One turn: `user` turns carry text, images and tool results; `assistant` turns text, tool calls and opaque parts."""

    role: Literal["user", "assistant"]
    parts: list[Part]

    @classmethod
    def user(cls, text: str) -> Message:
        return cls("user", [TextPart(text)])

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [p for p in self.parts if isinstance(p, ToolCall)]


@dataclass
class Usage:
    """Tokens of one call or, added up, of a run; `cost_usd` from the price table."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(mine + theirs for mine, theirs in zip(astuple(self), astuple(other), strict=True)))

    def to_json(self) -> dict[str, Any]:
        counts = asdict(self)
        cost_usd = counts.pop("cost_usd")
        return {**counts, "total_tokens": self.total_tokens, "cost_usd": round(cost_usd, 6)}


@dataclass
class Reply:
    """A model's answer: the assistant turn to append, and what it cost."""

    message: Message
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""  # end_turn | tool_use | max_tokens | …, as the vendor said it
    model: str = ""  # provider:model that answered
    latency_s: float = 0.0

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls


@runtime_checkable
class Model(Protocol):
    """A chat model with tool use. `name` is `provider:model`; `context_tokens` its context window."""

    name: str
    context_tokens: int

    async def generate(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        *,
        tool_choice: ToolChoice = "auto",
        max_tokens: int | None = None,
        allowed: tuple[str, ...] | None = None,
    ) -> Reply:
        """One call: the reply to `messages` under `system`, free to call `tools` (`any`: must call one).

        `allowed` (names of `tools`) narrows what this reply may call while `tools` stay described: a conversation
        whose calls offer different tools keeps one prompt prefix, which a local model's prompt cache reuses. A
        hosted model is sent the allowed tools alone.
        """
        ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...
