"""The agent's prompts, read from `agent/prompts/*.md` and filled in.

Prompts are files so they can be read and changed without touching code; a
placeholder is `{name}`, and every placeholder must be given a value.
"""

from __future__ import annotations

import functools
import string
from importlib import resources

__all__ = ["prompt"]


@functools.cache
def _template(name: str) -> str:
    return (resources.files("memento.agent") / "prompts" / f"{name}.md").read_text(encoding="utf-8")


def prompt(name: str, **values: object) -> str:
    """The prompt `name` with its placeholders filled; a missing or unknown value is a programming error."""
    template = _template(name)
    wanted = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    if wanted != set(values):
        raise KeyError(f"prompt {name!r} takes {sorted(wanted)}, got {sorted(values)}")
    return template.format(**values).strip()
