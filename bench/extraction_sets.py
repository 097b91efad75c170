"""The public main-content data sets the extraction benchmark scores against, each read into (name, HTML, text).

One loader per set, all giving the same `Page`; none of the pages is in this repository (they belong to
their publishers). Sets on a package registry are downloaded by `make bench`; the others are read from a
copy of their repository, as bench/README.md says. Nothing here scores or extracts.

- newspaper4k: 23 news pages with hand-checked article texts (newspaper4k 0.9.6 sdist, MIT, PyPI).
- readability: 130 pages of every kind (news, blogs, docs, wikis) with the article Firefox Reader View
  shows, kept as `expected.html` (mozilla/readability test/test-pages, Apache-2.0, GitHub).
- cleanportaleval: 70 news and blog pages of four portals (BBC, WSJ blogs, MSNBC, Washington Post blogs)
  cleaned by hand in the CleanEval format (ppke-nlpg/CleanPortalEval, GitHub; no licence file, published
  by its authors for evaluating boilerplate removal: Endrédy and Novák, Polibits 48, 2013).
- fundus: 258 news pages of 181 publishers in about 40 countries and many languages, with the article
  body the fundus news crawler's per-publisher parsers return, reviewed by its authors as test truth
  (flairNLP/fundus tests/resources/parser/test_data, MIT, GitHub).
- scrapinghub: the 181 article pages of scrapinghub/article-extraction-benchmark (MIT, GitHub). Held
  aside: never tuned on, scored only when named (`--set scrapinghub`).
"""

from __future__ import annotations

import gzip
import html as html_lib
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import ROOT

DATA = ROOT / "build" / "bench-data"
NEWSPAPER_SDIST = "newspaper4k-0.9.6.tar.gz"


@dataclass(frozen=True)
class Page:
    name: str
    html: str
    truth: str


@dataclass(frozen=True)
class DataSet:
    name: str
    title: str
    default: Path
    how_to_get: str
    load: Callable[[Path], list[Page]]
    held_aside: bool = False


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def load_newspaper4k(data: Path) -> list[Page]:
    """tests/data/html/NAME.html with its article text in tests/data/txt/NAME.txt, from the sdist or a folder."""
    htmls: dict[str, bytes] = {}
    texts: dict[str, bytes] = {}

    def take(path: str, read: Callable[[], bytes]) -> None:
        parts = path.split("/")
        if len(parts) < 3 or parts[-3] != "data":
            return
        if parts[-2] == "html" and parts[-1].endswith(".html"):
            htmls[parts[-1][: -len(".html")]] = read()
        elif parts[-2] == "txt" and parts[-1].endswith(".txt"):
            texts[parts[-1][: -len(".txt")]] = read()

    if data.is_dir():
        for path in sorted(data.rglob("*")):
            if path.is_file():
                take(path.as_posix(), path.read_bytes)
    else:
        with tarfile.open(data) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    take(member.name, lambda m=member: archive.extractfile(m).read())  # type: ignore[union-attr, misc]
    # files without a partner (12 html pages with no article text) are left out
    return [Page(name, _decode(htmls[name]), _decode(texts[name])) for name in sorted(htmls.keys() & texts.keys())]


# Elements after which the text starts a new line, so that words of two blocks never run together.
_BLOCK = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table tr td th pre blockquote figure figcaption section article "
    "header footer aside br hr img".split()
)


def html_text(markup: str) -> str:
    """The text of an HTML fragment, a line per block element."""
    import lxml.html

    root = lxml.html.fromstring(markup or "<div></div>")
    parts: list[str] = []

    def walk(element: Any) -> None:  # an lxml element
        block = isinstance(element.tag, str) and element.tag.lower() in _BLOCK
        if block:
            parts.append("\n")
        if isinstance(element.tag, str) and element.tag.lower() not in {"script", "style"} and element.text:
            parts.append(element.text)
        for child in element:
            walk(child)
        if block:
            parts.append("\n")
        if element.tail:
            parts.append(element.tail)

    walk(root)
    return "\n".join(" ".join(line.split()) for line in "".join(parts).split("\n") if line.strip())


def load_readability(data: Path) -> list[Page]:
    """test-pages/NAME/source.html with the article Reader View shows in test-pages/NAME/expected.html."""
    root = data / "test" / "test-pages" if (data / "test" / "test-pages").is_dir() else data
    pages = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        source, expected = folder / "source.html", folder / "expected.html"
        if source.is_file() and expected.is_file():
            pages.append(Page(folder.name, _decode(source.read_bytes()), html_text(_decode(expected.read_bytes()))))
    return pages


_CLEANEVAL_MARK = re.compile(r"^\s*<(?:p|h|l)>\s*", re.IGNORECASE | re.MULTILINE)


def cleaneval_text(gold: str) -> str:
    """A CleanEval gold file as plain text: the URL line and the <p>/<h>/<l> paragraph marks left out."""
    lines = gold.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("URL:"):
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].startswith("URL:"):
        lines = lines[1:]
    return html_lib.unescape(_CLEANEVAL_MARK.sub("", "\n".join(lines))).strip()


def load_cleanportaleval(data: Path) -> list[Page]:
    """input/NAME.html with the hand-cleaned text in GoldStandard/NAME.txt."""
    pages = []
    for source in sorted((data / "input").glob("*.html")):
        gold = data / "GoldStandard" / f"{source.stem}.txt"
        if gold.is_file():
            pages.append(Page(source.stem, _decode(source.read_bytes()), cleaneval_text(_decode(gold.read_bytes()))))
    return pages


def _version(key: str) -> tuple[int, ...]:
    """A fundus parser version key ("V1", "V1_1", "V2") as numbers, so that versions sort by age."""
    return tuple(int(part) for part in key.lstrip("V").split("_") if part.isdigit())


def fundus_text(body: dict[str, Any]) -> str:
    """A fundus article body as plain text: its summary, then each section's sub-headline and paragraphs."""
    lines = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        lines += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
    return "\n".join(line.strip() for line in lines if line.strip())


def load_fundus(data: Path) -> list[Page]:
    """COUNTRY/PUBLISHER_DATE.html.gz with the body in COUNTRY/PUBLISHER.json, one parser version per page.

    A publisher's pages, oldest crawl first, go with its parser versions, oldest first: fundus keeps
    exactly one page per version (its tests refuse two). A publisher whose counts differ is left out.
    """
    root = data / "tests" / "resources" / "parser" / "test_data"
    root = root if root.is_dir() else data
    pages = []
    for expected in sorted(root.glob("*/*.json")):
        versions = json.loads(expected.read_text(encoding="utf-8"))
        sources = sorted(expected.parent.glob(f"{expected.stem}_*.html.gz"))  # dates as YYYY_MM_DD sort by age
        if not isinstance(versions, dict) or len(sources) != len(versions):
            continue
        for key, source in zip(sorted(versions, key=_version), sources, strict=True):
            truth = fundus_text(versions[key].get("body") or {})
            if truth:
                name = f"{expected.parent.name}/{source.name[: -len('.html.gz')]}"
                pages.append(Page(name, _decode(gzip.decompress(source.read_bytes())), truth))
    return pages


def load_scrapinghub(data: Path) -> list[Page]:
    """html/ID.html.gz with the article body in ground-truth.json[ID]["articleBody"]."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        source = data / "html" / f"{key}.html.gz"
        if source.is_file():
            pages.append(Page(key, _decode(gzip.decompress(source.read_bytes())), truth[key].get("articleBody") or ""))
    return pages


def _clone(repo: str, folder: str) -> str:
    return f"  git clone --depth 1 https://github.com/{repo} {DATA / folder}\n(or pass --data with another copy)."


SETS: dict[str, DataSet] = {
    s.name: s
    for s in (
        DataSet(
            "newspaper4k",
            "real news pages (newspaper4k 0.9.6 test pages, MIT)",
            DATA / NEWSPAPER_SDIST,
            "get them with `make bench` (it downloads the sdist), or:\n"
            f"  .venv/bin/pip download --no-deps --no-binary :all: newspaper4k==0.9.6 -d {DATA}",
            load_newspaper4k,
        ),
        DataSet(
            "readability",
            "pages of every kind (mozilla/readability test pages, Apache-2.0)",
            DATA / "readability",
            _clone("mozilla/readability", "readability"),
            load_readability,
        ),
        DataSet(
            "cleanportaleval",
            "news and blog portals cleaned by hand (CleanPortalEval, CleanEval format)",
            DATA / "cleanportaleval",
            _clone("ppke-nlpg/CleanPortalEval", "cleanportaleval"),
            load_cleanportaleval,
        ),
        DataSet(
            "fundus",
            "news pages of 181 publishers, many languages (fundus parser test data, MIT)",
            DATA / "fundus",
            _clone("flairNLP/fundus", "fundus"),
            load_fundus,
        ),
        DataSet(
            "scrapinghub",
            "held-aside article pages (scrapinghub/article-extraction-benchmark, MIT)",
            DATA / "article-extraction-benchmark",
            _clone("scrapinghub/article-extraction-benchmark", "article-extraction-benchmark"),
            load_scrapinghub,
            held_aside=True,
        ),
    )
}
