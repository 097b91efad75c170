"""Page furniture removed from a parsed page before main-content extraction.

trafilatura finds the article; what it lets through on real news pages is the furniture around it:
hidden widgets, newsletter and login forms, cookie notices, pop-up dialogs, reader comments, "related
stories" link lists. Each rule is a general page convention, never a site's. Nothing here fetches.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["shown_summary", "strip_furniture"]

# Class and id words that name furniture, matched as whole words: between separators (space, "-",
# "_") or at a lower-to-upper case change, so "sf_comment_list", "cookieNotice" and "inline-recirc"
# match and "commentary", "subscribers-only-article" or "popular" do not.
_FURNITURE = re.compile(
    r"(?:^|(?<=[\s_\-])|(?<=[a-z])(?=[A-Z]))"
    r"(?i:comments?|disqus|cookies?|cookie\w*|consent|gdpr|newsletters?|subscribe|subscription|modal|popup"
    r"|signup|login|regist(?:er|ration)?|related|recirc|keywords?)"
    r"(?=$|[\s_\-]|[A-Z])"
)
# Class names that hide text from sight and leave it to screen readers (or hide it outright).
_HIDDEN_CLASSES = frozenset(
    {
        "hidden",
        "is-hidden",
        "sr-only",
        "visually-hidden",
        "visuallyhidden",
        "screen-reader-text",
        "hide-text",
        "element-invisible",
        "a11y-hidden",
    }
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Containers only: a furniture word on a paragraph or a link ("paywall", "comment-count") says little
# about the text in it, and the article's own paragraphs sometimes carry such classes.
_BLOCKS = frozenset({"div", "section", "aside", "ul", "ol", "form", "dl", "footer", "nav"})
_KEPT = frozenset({"html", "head", "body", "main", "article"})
# A candidate holding more than this share of the page's text is the page itself, not furniture on it.
_MAX_SHARE = 0.5
_LISTING_SHARE = 0.85  # lists of links holding more of the page's text than this are the page itself
_SHORT_FORM = 1000  # characters: a form with less text is a widget, not a page wrapped in one form (ASP.NET)
# A paragraph or list made of several links and little else is a list of other pages ("Related:").
_LINK_LIST_MIN_LINKS = 2
_LINK_LIST_SHARE = 0.8
_ITEM_LINK_SHARE = 0.5
_ARTICLE_PARAGRAPHS = 3  # an h1 over this many paragraphs is an article, not a sign-up box with a heading
_MIN_SUMMARY = 40  # characters: shorter descriptions are labels ("News", the site's name), not a lead
_WORD = re.compile(r"\w+")
_LEAD_TAGS = ("p", "div", "h2", "span", "section")
_UNSEEN = ("script", "style", "template")


def strip_furniture(tree: etree._Element) -> int:
    """Remove the furniture from `tree` in place; the number of elements removed."""
    body = tree.find(".//body")
    root = body if body is not None else tree
    # Script and style text is left out of every measure below: it can hold most of a page's
    # characters (inline state, JSON), which would make the article look like a small share of the
    # page and its container like furniture. Blanked for the measuring, put back for the extractor
    # (it reads JSON-LD metadata from scripts).
    unseen = [(element, element.text) for element in tree.iter(_UNSEEN) if element.text]
    for element, _ in unseen:
        element.text = None
    try:
        return _strip(root)
    finally:
        for element, text in unseen:
            element.text = text


def _strip(root: etree._Element) -> int:
    total = len(_text(root)) or 1
    found = [(element, kind) for element in root.iter() if isinstance(element.tag, str) and (kind := _furniture_kind(element, total))]
    link_lists = {element for element, kind in found if kind == "links"}
    outermost = [element for element in link_lists if link_lists.isdisjoint(element.iterancestors())]
    # A page that is nearly nothing but lists of links (a section front, an index) has them for content:
    # they are furniture only beside an article. Article pages with heavy navigation stay under 80%.
    listing = sum(len(_text(element)) for element in outermost) > _LISTING_SHARE * total
    removed = 0
    for element, kind in found:
        if (listing and kind == "links") or not _attached(element, root):
            continue  # kept as the page's content, or already gone with an ancestor
        _drop(element)
        removed += 1
    return removed


def shown_summary(tree: etree._Element) -> str | None:
    """The page's description (meta description or og:description) when one element of the page shows exactly that text.

    Such an element is the article's lead (standfirst); a description that only begins a longer
    paragraph, or sits in a script, is not one.
    """
    body = tree.find(".//body")
    if body is None:
        return None
    for content in tree.xpath("//head/meta[@name='description' or @property='og:description']/@content"):
        summary = " ".join(str(content).split())
        if len(summary) < _MIN_SUMMARY:
            continue
        wanted = _words(summary)
        for element in body.iter(_LEAD_TAGS):
            first = _words(element.text or "")
            # a quick test on the element's own first words before reading all of its text
            if first and wanted.startswith(first[:20]) and _words(_text(element)) == wanted:
                return summary
        return None
    return None


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text))


def _furniture_kind(element: etree._Element, total: int) -> str | None:
    """Which kind of furniture `element` is ("hidden", "form", "links", "named"), or None for content."""
    tag = element.tag.lower()
    if tag in _KEPT:
        return None
    if _hidden(element) or element.get("role") in {"dialog", "alertdialog"} or element.get("aria-modal") == "true":
        return "hidden" if len(_text(element)) <= _MAX_SHARE * total else None
    if tag == "form":
        return "form" if len(_text(element)) < _SHORT_FORM else None
    if tag in {"p", "ul", "ol"} and _is_link_list(element):
        return "links"
    if tag not in _BLOCKS:
        return None
    names = f"{element.get('class', '')} {element.get('id', '')}".strip()
    if not names or not _FURNITURE.search(names):
        return None
    if len(_text(element)) > _MAX_SHARE * total or _frames_article(element):
        return None
    return "named"


def _frames_article(element: etree._Element) -> bool:
    """Whether `element` holds the article itself: a headline (h1) over paragraphs, or a marked article body.

    Pages that show the article in an overlay name its frame "modal" or "popup"; such a word on the
    frame says nothing about what is inside it.
    """
    if element.find(".//*[@itemprop='articleBody']") is not None:
        return True
    return element.find(".//h1") is not None and len(element.findall(".//p")) >= _ARTICLE_PARAGRAPHS


def _hidden(element: etree._Element) -> bool:
    if element.get("hidden") is not None:
        return True
    if not _HIDDEN_CLASSES.isdisjoint(element.get("class", "").split()):
        return True
    style = element.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def _is_link_list(element: etree._Element) -> bool:
    """Several links and little else; or a list of at least two items that are each a link to another page."""
    links = [link for link in element.iter("a") if _text(link)]
    if len(links) < _LINK_LIST_MIN_LINKS:
        return False
    text = len(_text(element))
    if text > 0 and sum(len(_text(link)) for link in links) >= _LINK_LIST_SHARE * text:
        return True
    if element.tag not in {"ul", "ol"}:
        return False
    items = [item for item in element if item.tag == "li" and _text(item)]
    return len(items) >= _LINK_LIST_MIN_LINKS and all(_headline_item(item) for item in items)


def _headline_item(item: etree._Element) -> bool:
    """A list item that is a link to another page: mostly one link's text, or a linked heading."""
    longest = max((len(_text(link)) for link in item.iter("a")), default=0)
    if longest >= _ITEM_LINK_SHARE * len(_text(item)):
        return True
    return any(heading.find(".//a") is not None for heading in item.iter("h2", "h3", "h4", "h5", "h6"))


def _text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _attached(element: etree._Element, root: etree._Element) -> bool:
    return any(ancestor is root for ancestor in element.iterancestors())


def _drop(element: etree._Element) -> None:
    """Remove `element` but keep the text that follows it (its tail belongs to the parent)."""
    parent = element.getparent()
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
