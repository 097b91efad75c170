"""RSS and Atom feeds through feedparser: the channel, then one section per item (title, date, link, text as Markdown).

feedparser reads XML with the standard SAX parser, whose protection against
entity expansion depends on the Expat it was built with; so a feed that
declares entities or external references is refused first, with defusedxml,
before feedparser sees it. Feeds never reach the network from here.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

from memento.core.errors import ConversionFailed, InvalidInput

from ..charsets import decode_body
from ..model import Document, Section
from .base import Blob, ConvertOptions
from .markup import html_to_markdown

FORMATS = ("feed",)

_ENTITY_DECLARATION = re.compile(r"<!\s*ENTITY", re.IGNORECASE)


def convert(blob: Blob, options: ConvertOptions) -> Document:
    _refuse_entities(blob.data, blob.name or "the feed")
    import feedparser

    parsed = feedparser.parse(io.BytesIO(blob.data), resolve_relative_uris=False, sanitize_html=True)
    channel, entries = parsed.get("feed", {}), parsed.get("entries", [])
    if not entries and not channel.get("title"):
        problem = parsed.get("bozo_exception")
        raise ConversionFailed(f"{blob.name or 'This'} is not a readable RSS or Atom feed ({problem or 'no channel and no items'}).")
    notes = []
    if parsed.get("bozo"):
        notes.append(f"the feed is not well-formed ({parsed.get('bozo_exception')}); it was read leniently.")
    metadata: dict[str, Any] = {"feed_version": parsed.get("version") or "unknown", "items": len(entries)}
    for key, field in (("title", "title"), ("link", "link"), ("updated", "updated"), ("language", "language"), ("author", "author")):
        if channel.get(field):
            metadata[key] = _one_line(str(channel[field]))
    if options.metadata_only:
        return Document("feed", [], metadata, notes)
    head = [f"# {metadata.get('title', 'Feed')}", ""]
    head += [f"- **{key.capitalize()}:** {metadata[key]}" for key in ("link", "updated", "language", "author") if key in metadata]
    about = _markdown(channel.get("subtitle_detail") or {}, channel.get("subtitle", ""))
    if about:
        head += ["", about]
    head += ["", f'{len(entries)} item(s); `pages` selects items, e.g. pages="1-5".']
    sections = [_item(number, entry) for number, entry in enumerate(entries, start=1)]
    if sections:
        sections[0].text = "\n".join(head) + "\n\n" + sections[0].text
    else:
        sections = [Section("\n".join(head))]
    return Document("feed", sections, metadata, notes)


def _refuse_entities(data: bytes, name: str) -> None:
    """Refuse entity declarations and external references (billion laughs, XXE) before any expanding parser runs."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    refusal = (
        f"{name} declares XML entities or external references, which a feed has no need for and which can expand "
        "without bound (a 'billion laughs' file) or read other files; it was refused unread."
    )
    try:
        fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidInput(refusal) from exc
    except (ParseError, ValueError):
        # Not well-formed: feedparser's lenient reader takes over, so look for declarations in the text itself.
        if _ENTITY_DECLARATION.search(decode_body(data)[0]):
            raise InvalidInput(refusal) from None


def _item(number: int, entry: Any) -> Section:
    title = _one_line(str(entry.get("title") or "")) or "(untitled)"
    lines = [f"## {number}. {title}"]
    date = _date(entry)
    for label, value in (("Date", date), ("Link", entry.get("link")), ("Author", entry.get("author"))):
        if value:
            lines.append(f"- **{label}:** {_one_line(str(value))}")
    categories = [str(tag.get("term")) for tag in entry.get("tags") or [] if tag.get("term")]
    if categories:
        lines.append(f"- **Categories:** {_one_line(', '.join(categories))}")
    enclosures = [str(link.get("href")) for link in entry.get("links") or [] if link.get("rel") == "enclosure" and link.get("href")]
    if enclosures:
        lines.append(f"- **Enclosures:** {_one_line(', '.join(enclosures))}")
    contents = entry.get("content") or []
    body = _markdown(contents[0], contents[0].get("value", "")) if contents else ""
    summary = _markdown(entry.get("summary_detail") or {}, entry.get("summary", ""))
    text = body or summary
    if len(lines) > 1:
        lines.insert(1, "")
    if text:
        lines += ["", text]
    return Section("\n".join(lines), "item", number, title[:80])


def _markdown(detail: Any, value: str) -> str:
    if not value:
        return ""
    kind = (detail.get("type") or "") if hasattr(detail, "get") else ""
    if "html" in kind or re.search(r"<[a-zA-Z][^>]*>", value):
        return html_to_markdown(value)
    return value.strip()


def _date(entry: Any) -> str:
    for field in ("published", "updated"):
        parsed = entry.get(f"{field}_parsed")
        if parsed:
            return time.strftime("%Y-%m-%d %H:%M UTC", parsed)
        if entry.get(field):
            return str(entry[field])
    return ""


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:499] + "…"
