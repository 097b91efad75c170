"""Pagination of long text: one window of a text plus a note on how to read on.

Tools that can return more than a model should read at once take `start_index`
and `max_length` and answer with `paginate(...)`. The window prefers to end at a
line break so a page does not stop mid-sentence, and the note always names the
exact `start_index` of the next part, so reading part after part reproduces the
whole text. Nothing is ever cut silently.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from .errors import InvalidInput

__all__ = ["Page", "paginate"]

# A window may end up to this share early to finish on a line break.
_SOFT_MARGIN = 0.1


class Page(BaseModel):
    """One window of a longer text."""

    content: str = Field(description="The text of this window.")
    start_index: int = Field(description="Offset of the window's first character in the whole text.")
    end_index: int = Field(description="Offset just past the window's last character.")
    total_length: int = Field(description="Length of the whole text in characters.")
    next_start_index: int | None = Field(description="Pass this as start_index to read on; null at the end.")

    def note(self) -> str:
        """The line that tells a model where it is and how to continue."""
        if self.next_start_index is None:
            if self.start_index == 0:
                return ""
            return f"[end of text: characters {self.start_index}-{self.end_index} of {self.total_length}]"
        return (
            f"[characters {self.start_index}-{self.end_index} of {self.total_length}; "
            f"{self.total_length - self.end_index} more. Call again with "
            f"start_index={self.next_start_index} to read the next part.]"
        )

    def render(self) -> str:
        note = self.note()
        return f"{self.content}\n\n{note}" if note else self.content


def paginate(text: str, start_index: int = 0, max_length: int = 20_000) -> Page:
    """Cut `text[start_index:]` to at most `max_length` characters."""
    total = len(text)
    if max_length < 1:
        raise InvalidInput(f"max_length must be at least 1, got {max_length}.")
    if start_index < 0:
        raise InvalidInput(f"start_index must be 0 or more, got {start_index}.")
    if start_index > total or (start_index == total and total > 0):
        raise InvalidInput(
            f"start_index={start_index} is past the end: the text has {total} characters (valid start_index: 0-{max(total - 1, 0)})."
        )
    end = min(start_index + max_length, total)
    if end < total:
        floor = start_index + int(max_length * (1 - _SOFT_MARGIN))
        newline = text.rfind("\n", floor, end)
        if newline > start_index:
            end = newline + 1
    return Page(
        content=text[start_index:end],
        start_index=start_index,
        end_index=end,
        total_length=total,
        next_start_index=end if end < total else None,
    )
