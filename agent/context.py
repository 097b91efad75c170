"""Keeping a conversation inside the model's context window.

When the estimated size nears the window, the oldest tool results are replaced
by a short stub that says what was removed. A tool result stays in its place
(only its text shrinks), so a tool call is never separated from its result,
and the latest turns are left whole. `episode_record` is the compact record of
an episode's finished subtasks that each new subtask starts from, kept within a
character budget.
"""

from __future__ import annotations

from dataclasses import replace

from .llm import ImagePart, Message, OpaquePart, Part, TextPart, ToolCall, ToolResultPart

__all__ = ["compact", "episode_record", "estimate_tokens"]

CHARS_PER_TOKEN = 4  # a rough, safe-side average for English text and JSON
IMAGE_TOKENS = 1600  # an image downscaled by the vendor costs about this much
KEEP_LAST = 4  # turns never compacted: the model is working on them
SHARE = 0.7  # compact when the estimate passes this share of the window


def _part_tokens(part: Part) -> int:
    if isinstance(part, TextPart):
        return len(part.text) // CHARS_PER_TOKEN + 1
    if isinstance(part, ImagePart):
        return IMAGE_TOKENS
    if isinstance(part, ToolCall):
        return len(str(part.arguments)) // CHARS_PER_TOKEN + 10
    if isinstance(part, ToolResultPart):
        return len(part.text) // CHARS_PER_TOKEN + IMAGE_TOKENS * len(part.images) + 5
    if isinstance(part, OpaquePart):
        return len(str(part.data)) // CHARS_PER_TOKEN
    return 0


def estimate_tokens(system: str, messages: list[Message]) -> int:
    """A rough token count of a request (system prompt and turns; tools are small beside them)."""
    return len(system) // CHARS_PER_TOKEN + sum(_part_tokens(p) for m in messages for p in m.parts)


def compact(system: str, messages: list[Message], context_tokens: int) -> int:
    """Shrink the oldest tool results in place until the request fits `SHARE` of the window; returns how many."""
    limit = int(context_tokens * SHARE)
    total = estimate_tokens(system, messages)
    shrunk = 0
    for message in messages[: max(0, len(messages) - KEEP_LAST)]:
        if total <= limit:
            break
        for i, part in enumerate(message.parts):
            if not isinstance(part, ToolResultPart) or part.text.startswith("[removed"):
                continue
            before = _part_tokens(part)
            stub = f"[removed to save context: this result had {len(part.text):,} characters" + (
                f" and {len(part.images)} image(s)]" if part.images else "]"
            )
            message.parts[i] = replace(part, text=stub, images=())
            total -= before - _part_tokens(message.parts[i])
            shrunk += 1
    return shrunk


def episode_record(findings: list[tuple[str, str]], budget_chars: int) -> str:
    """What the earlier subtasks of an episode found, newest kept longest, in at most about `budget_chars` characters.

    Every finding gets an equal share of the budget (cut with an ellipsis); when even the shares do not
    fit, the oldest findings are left out and the record says how many.
    """
    if not findings or budget_chars <= 0:
        return ""
    head = "What the earlier subtasks of this task found (use it; do not redo their work):"
    share = max(200, budget_chars // len(findings))
    lines = []
    for number, (subtask, result) in enumerate(findings, start=1):
        found = " ".join(result.split())
        found = found if len(found) <= share else found[: share - 1] + "…"
        lines.append(f"{number}. {' '.join(subtask.split())[:300]}\n   → {found}")
    left_out = 0
    while len(lines) > 1 and sum(len(line) + 1 for line in lines) > budget_chars:
        lines.pop(0)  # the oldest: later subtasks usually build on it already
        left_out += 1
    if left_out:
        lines.insert(0, f"({left_out} earlier subtask(s) left out to keep this short)")
    return "\n".join([head, *lines])
