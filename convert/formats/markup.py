"""HTML (BeautifulSoup + markdownify), and structured data: JSON, JSON Lines, XML, YAML.

HTML loses scripts, styles and hidden parts and keeps headings, lists, links and
tables; a search engine's click-tracking links become their targets (resultlinks).
Structured data is shown pretty-printed in a fenced block; invalid data is shown
as it is, with a note saying where parsing failed.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from ..charsets import decode_body
from ..model import Document, Section
from .base import Blob, ConvertOptions
from .resultlinks import decode_result_link

FORMATS = ("html", "xml", "json", "jsonl", "yaml")

_DROP = ("script", "style", "noscript", "template", "iframe", "svg", "canvas", "head")


def html_to_markdown(html: str) -> str:
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
    from markdownify import MarkdownConverter

    with warnings.catch_warnings():  # XHTML (EPUB chapters) is fine to read as HTML
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.select('[hidden], [aria-hidden="true"], [style*="display:none"], [style*="display: none"]'):
        tag.decompose()
    for link in soup.find_all("a", href=True):  # a search engine's result page: its links, not its click tracking
        href = link["href"]
        if isinstance(href, str):
            link["href"] = decode_result_link(href)
    markdown = MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup)
    lines = [line.rstrip() for line in markdown.splitlines()]
    out: list[str] = []
    for line in lines:  # collapse runs of blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def convert(blob: Blob, options: ConvertOptions) -> Document:
    text, encoding = decode_body(blob.data)
    handler = {"html": _html, "xml": _xml, "json": _json, "jsonl": _jsonl, "yaml": _yaml}[blob.format]
    return handler(text, encoding, options)


def _html(text: str, encoding: str, options: ConvertOptions) -> Document:
    from bs4 import BeautifulSoup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(text, "lxml")
    metadata: dict[str, Any] = {"encoding": encoding}
    if soup.title and soup.title.string:
        metadata["title"] = soup.title.string.strip()
    for name in ("author", "description", "date", "article:published_time"):
        tag = soup.find("meta", attrs={"name": name}) or soup.find("meta", attrs={"property": name})
        content = tag.get("content") if tag else None
        if content and isinstance(content, str):  # never a list: only class-like attributes are multi-valued
            metadata[name.split(":")[-1]] = content.strip()
    if options.metadata_only:
        return Document("html", [], metadata)
    body = html_to_markdown(text)
    if metadata.get("title") and not body.startswith(f"# {metadata['title']}"):
        body = f"# {metadata['title']}\n\n{body}"
    return Document("html", [Section(body)], metadata)


def _fenced(language: str, text: str) -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def _json(text: str, encoding: str, options: ConvertOptions) -> Document:
    metadata: dict[str, Any] = {"encoding": encoding}
    notes = []
    try:
        value = json.loads(text)
        metadata["top_level"] = type(value).__name__
        if isinstance(value, (list, dict)):
            metadata["items"] = len(value)
        shown = json.dumps(value, indent=2, ensure_ascii=False)
    except json.JSONDecodeError as exc:
        notes.append(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; shown as text.")
        shown = text
    sections = [] if options.metadata_only else [Section(_fenced("json", shown))]
    return Document("json", sections, metadata, notes)


def _jsonl(text: str, encoding: str, options: ConvertOptions) -> Document:
    lines = [line for line in text.splitlines() if line.strip()]
    bad = []
    shown = []
    for number, line in enumerate(lines, start=1):
        try:
            shown.append(json.dumps(json.loads(line), ensure_ascii=False))
        except json.JSONDecodeError:
            bad.append(number)
            shown.append(line)
    notes = [f"{len(bad)} line(s) are not valid JSON (first: line {bad[0]})."] if bad else []
    metadata = {"encoding": encoding, "records": len(lines)}
    sections = [] if options.metadata_only else [Section(_fenced("jsonl", "\n".join(shown)))]
    return Document("jsonl", sections, metadata, notes)


def _xml(text: str, encoding: str, options: ConvertOptions) -> Document:
    from lxml import etree

    metadata: dict[str, Any] = {"encoding": encoding}
    notes = []
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)
        root = etree.fromstring(text.encode("utf-8"), parser)
        metadata["root"] = etree.QName(root).localname
        shown = etree.tostring(root, pretty_print=True, encoding="unicode")
    except (etree.XMLSyntaxError, ValueError) as exc:
        notes.append(f"invalid XML ({exc}); shown as text.")
        shown = text
    sections = [] if options.metadata_only else [Section(_fenced("xml", shown))]
    return Document("xml", sections, metadata, notes)


def _yaml(text: str, encoding: str, options: ConvertOptions) -> Document:
    import yaml

    metadata: dict[str, Any] = {"encoding": encoding}
    notes = []
    try:
        documents = list(yaml.safe_load_all(text))
        metadata["documents"] = len(documents)
    except yaml.YAMLError as exc:
        notes.append(f"invalid YAML ({' '.join(str(exc).split())}); shown as text.")
    sections = [] if options.metadata_only else [Section(_fenced("yaml", text))]
    return Document("yaml", sections, metadata, notes)
