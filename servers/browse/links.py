"""The links of a page: anchor text and absolute URL, in page order, each URL once.

Relative links are resolved against the page's final URL (or its <base href>).
Script, mail, telephone and same-page anchors are left out: a model can only
follow http(s) links. A search engine's click-tracking link is listed as the
page it leads to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

from memento.convert.formats.resultlinks import decode_result_link

__all__ = ["Link", "extract_links"]

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    text: str
    url: str


def _label(anchor) -> str:
    text = " ".join(anchor.text_content().split())
    if text:
        return text[:300]
    for attribute in ("aria-label", "title"):
        if anchor.get(attribute):
            return " ".join(anchor.get(attribute).split())[:300]
    for image in anchor.iter("img"):
        if image.get("alt"):
            return " ".join(image.get("alt").split())[:300]
    return ""


def extract_links(html: str, page_url: str, contains: str | None = None) -> list[Link]:
    import lxml.html
    from lxml import etree

    source = _XML_DECLARATION.sub("", html, count=1)  # lxml refuses str input with an encoding declaration
    if not source.strip():
        return []
    try:
        root = lxml.html.document_fromstring(source)
    except (etree.ParserError, ValueError):
        return []
    base = page_url
    for element in root.iter("base"):
        if element.get("href"):
            base = urljoin(page_url, element.get("href").strip())
            break
    page = urldefrag(page_url).url
    needle = (contains or "").lower().strip()
    found: dict[str, Link] = {}
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        url = decode_result_link(urljoin(base, href))
        if urlsplit(url).scheme not in ("http", "https") or (urldefrag(url).url == page and "#" in url):
            continue
        text = _label(anchor)
        if needle and needle not in url.lower() and needle not in text.lower():
            continue
        if url not in found or (not found[url].text and text):
            found[url] = Link(text, url)
    return list(found.values())
