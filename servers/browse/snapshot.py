"""A page as a compact accessibility tree: what a model needs to act, in few characters.

Playwright's AI snapshot (an ARIA tree in YAML with `[ref=eN]` handles) is
the source. Compacting drops unnamed wrapper nodes (lifting their children),
keeps refs only on elements one can click or type into, folds a link's URL
onto its line, and shortens long texts. `verbose=True` keeps it all. Refs
name elements of the snapshot they came from; after the page changes, take a
new snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["compact", "INTERACTIVE_ROLES"]

INTERACTIVE_ROLES = frozenset(
    "link button textbox searchbox checkbox radio combobox listbox option menuitem menuitemcheckbox "
    "menuitemradio tab switch slider spinbutton treeitem".split()
)
_WRAPPERS = frozenset({"generic", "group", "none", "presentation", "rowgroup", "Section"})
_KEPT_ATTRIBUTES = ("level", "checked", "disabled", "expanded", "selected", "pressed", "required")
_LINE = re.compile(
    r'^(?P<role>[^\s":\[]+)(?:\s+"(?P<name>(?:[^"\\]|\\.)*)")?(?P<attrs>(?:\s+\[[^\]]*\])*)(?P<colon>:)?(?:\s+(?P<value>.*))?$'
)
_ATTRIBUTE = re.compile(r"\[([^\]=]+)(?:=([^\]]*))?\]")
_TEXT_LIMIT = 300


@dataclass
class _Node:
    role: str
    name: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    value: str = ""
    children: list[_Node] = field(default_factory=list)
    raw: str = ""


def _parse(snapshot: str) -> list[_Node]:
    roots: list[_Node] = []
    stack: list[tuple[int, _Node]] = []
    for line in snapshot.splitlines():
        stripped = line.lstrip(" ")
        if not stripped.startswith("- "):
            continue
        indent = len(line) - len(stripped)
        body = stripped[2:]
        match = _LINE.match(body)
        if match:
            attributes = dict(_ATTRIBUTE.findall(match.group("attrs") or ""))
            node = _Node(match.group("role"), match.group("name") or "", attributes, (match.group("value") or "").strip(), raw=body)
        else:
            node = _Node("text", value=body, raw=body)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((indent, node))
    return roots


def _short(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _emit(node: _Node, depth: int, out: list[str]) -> None:
    properties = {c.role: c.value for c in node.children if c.role.startswith("/")}
    children = [c for c in node.children if not c.role.startswith("/")]
    if node.role.startswith("/"):
        return
    if node.role in _WRAPPERS and not node.name and (children or not node.value) and "cursor" not in node.attributes:
        for child in children:
            _emit(child, depth, out)
        return
    role = node.role
    if node.role in _WRAPPERS:  # an unnamed wrapper that stayed: a clickable element, or one holding text
        role = "clickable" if "cursor" in node.attributes else "text" if not node.name and not children else node.role
    parts = [role]
    if node.name:
        parts.append(f'"{_short(node.name)}"')
    for key in _KEPT_ATTRIBUTES:
        if key in node.attributes:
            value = node.attributes[key]
            parts.append(f"[{key}={value}]" if value else f"[{key}]")
    if "ref" in node.attributes and (node.role in INTERACTIVE_ROLES or "cursor" in node.attributes):
        parts.append(f"[ref={node.attributes['ref']}]")
    if node.role == "link" and "/url" in properties:
        parts.append(f"→ {_short(properties['/url'])}")
    if "/placeholder" in properties:
        parts.append(f"(placeholder: {_short(properties['/placeholder'])})")
    line = "  " * depth + "- " + " ".join(parts)
    if node.value:
        line += f": {_short(node.value)}"
    elif children:
        line += ":"
    out.append(line)
    for child in children:
        _emit(child, depth + 1, out)


def compact(snapshot: str, *, verbose: bool = False) -> str:
    """The snapshot made compact (or returned whole with `verbose`)."""
    if verbose:
        return snapshot.strip() + "\n"
    out: list[str] = []
    for node in _parse(snapshot):
        _emit(node, 0, out)
    return "\n".join(out) + "\n"
