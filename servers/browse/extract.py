"""From a page's HTML to what a model reads: main content as Markdown, title, date, whole-page text.

Main content comes from trafilatura (tables, lists and headings kept;
navigation, ads and footers left out), after `furniture` has removed what it
lets through on real pages (hidden parts, forms, cookie notices, comments,
lists of other articles). When it finds no main content, the
shared HTML converter (`memento.convert`) turns the whole page into Markdown instead.
`needs_rendering` is the judgement behind render="auto". Nothing here fetches.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import warnings
from dataclasses import dataclass

from .furniture import shown_summary, strip_furniture

__all__ = ["Extracted", "extract_main", "needs_rendering", "page_text", "warm_up"]

log = logging.getLogger("memento.browse")

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_APP_ROOT = re.compile(
    r"""<(div|main|section|body)\b[^>]*\bid\s*=\s*["']?(root|app|__next|__nuxt|svelte|application|main-app)\b["']?[^>]*>\s*</\1>""",
    re.IGNORECASE,
)
_NOSCRIPT_HINT = re.compile(r"<noscript\b[^>]*>.{0,400}?javascript", re.IGNORECASE | re.DOTALL)
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_BLANKS = re.compile(r"\n{3,}")
# A short inline tag the extractor leaves in its Markdown, with the space it puts before it.
_INLINE_TAG = re.compile(r"([ \t]*)<(sup|sub|u)>([^<\n]{0,40})</\2>", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_COPYRIGHT = re.compile(r"©|\(c\)\s*\d{4}|\ball rights reserved\b|\bno reproduction\b", re.IGNORECASE)
# "Write to Ann Lee at ann@paper.test": the sign-off of a news article. A bare address is left alone:
# on a contact page it is the content.
_WRITE_TO = re.compile(r"^\W*(?:write to|contact|email)\b.*\bat\s+[\w.+-]+@[\w-]+(?:\.[\w-]+)+\W*$", re.IGNORECASE)
_SIGN_OFF_WORDS = 25  # a closing notice is a line, not a paragraph that happens to quote an address


@dataclass(frozen=True)
class Extracted:
    title: str
    published: str | None
    markdown: str
    main_content: bool  # False: no main content was found and the whole page was converted


_import_lock = threading.Lock()


def _trafilatura():
    """The extractor module, imported once without its optional-dependency warnings (SOCKS support in urllib3)."""
    with _import_lock:
        if "trafilatura" not in sys.modules:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import trafilatura  # noqa: F401
    return sys.modules["trafilatura"]


def warm_up() -> None:
    """Import the extractor ahead of the first page (it takes a moment); a failure here waits for the first page."""
    try:
        _trafilatura()
    except Exception as exc:
        log.warning("could not import trafilatura ahead of time: %s", exc)


def extract_main(html: str, url: str, *, furniture: bool = True) -> Extracted:
    """The main content of `html` as Markdown, with the title and publication date when found.

    `furniture=False` leaves page furniture (hidden parts, forms, dialogs, cookie notices, comments)
    to trafilatura alone, as this function did before; the extraction benchmark compares the two.
    """
    trafilatura = _trafilatura()
    document = None
    lead = None
    try:
        page = html
        if furniture:
            tree = trafilatura.load_html(html)
            if tree is not None:
                strip_furniture(tree)
                lead = shown_summary(tree)
                page = tree
        document = trafilatura.bare_extraction(
            page,
            url=url,
            with_metadata=True,
            include_formatting=True,
            include_tables=True,
            include_comments=False,
            include_links=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # the extractor's own failure on odd markup: fall back, never fail the read
        log.warning("trafilatura failed on %s: %s: %s", url, type(exc).__name__, exc)
    title = _title(html, getattr(document, "title", None))
    published = getattr(document, "date", None) or None
    text = (getattr(document, "text", None) or "").strip()
    if furniture:
        text = _plain_inline_tags(_without_sign_off(text))
    if text:
        return Extracted(title, published, _tidy(_with_lead(_headed(text, title), lead)), True)
    return Extracted(title, published, page_text(html, keep_links=True), False)


def page_text(html: str, *, keep_links: bool = False) -> str:
    """The whole page as Markdown (scripts, styles and hidden parts removed); links reduced to their text unless kept."""
    from memento.convert.formats.markup import html_to_markdown

    text = html_to_markdown(html)
    if not keep_links:
        text = _MD_LINK.sub(lambda m: m.group(1), text)
    return _tidy(text)


def needs_rendering(html: str, main_chars: int, min_chars: int) -> str | None:
    """Why this page should be rendered with a browser before reading it, or None when its HTML suffices."""
    if not _SCRIPT.search(html):
        return None  # no scripts: a browser would show the same text
    if main_chars < min_chars:
        return f"the HTML holds only {main_chars} characters of text and relies on scripts"
    if main_chars < 4 * min_chars:
        if _APP_ROOT.search(html):
            return "the page is an empty application root filled in by scripts"
        if _NOSCRIPT_HINT.search(html):
            return "the page says it needs JavaScript"
    return None


def _headed(text: str, title: str) -> str:
    """The text under a top heading: its first line made one when it is the title, else the title added."""
    if not title or text.startswith("#"):
        return text
    first, _, rest = text.partition("\n")
    if " ".join(first.split()).lower() == title.lower():
        return f"# {first.strip()}\n{rest}"
    return f"# {title}\n\n{text}"


def _without_sign_off(text: str) -> str:
    """The text without the notices that close a page after the article: copyright lines, "write to ... at ..." addresses."""
    lines = text.split("\n")
    while lines and (not lines[-1].strip() or _is_sign_off(lines[-1])):
        lines.pop()
    return "\n".join(lines) if lines else text  # a page that is nothing but notices keeps them


def _plain_inline_tags(text: str) -> str:
    """The text with the <sup>/<sub>/<u> tags the extractor writes out literally put in plain text.

    Markdown has no superscript; the extractor writes `km <sup>2</sup>` and `1.6 <sup>[4]</sup>`, whose
    tag names a reader (or a model) takes for words. A superscript number becomes `^2`, a reference mark
    stays attached as a reader sees it (`1.6[4]`), a subscript joins its word (`H2O`).
    """

    def plain(match: re.Match[str]) -> str:
        space, tag, inner = match.group(1), match.group(2).lower(), match.group(3).replace("\\[", "[").replace("\\]", "]")
        if tag == "u":
            return space + inner
        if tag == "sup" and not inner.startswith("[") and _WORD.fullmatch(inner):
            return f"^{inner}"
        return inner

    return _INLINE_TAG.sub(plain, text)


def _is_sign_off(line: str) -> bool:
    words = len(line.split())
    if words > _SIGN_OFF_WORDS:
        return False
    return bool(_COPYRIGHT.search(line) or _WRITE_TO.search(line))


def _with_lead(markdown: str, lead: str | None) -> str:
    """The page's own summary put under the top heading when it is shown above the article but the extractor left it out.

    A lead (standfirst) often sits outside the element holding the article's paragraphs, where the
    extractor does not look; the page's description, when the page shows it, is that lead.
    """
    if not lead or _words(lead) in _words(markdown):
        return markdown
    if markdown.startswith("# "):
        heading, _, rest = markdown.partition("\n")
        return f"{heading}\n\n{lead}\n\n{rest.lstrip()}"
    return f"{lead}\n\n{markdown}"


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text))


def _title(html: str, found: str | None) -> str:
    if found and found.strip():
        return " ".join(found.split())
    match = _TITLE.search(html[:200_000])
    if not match:
        return ""
    import html as html_lib

    return " ".join(html_lib.unescape(match.group(1)).split())


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip() + "\n"
