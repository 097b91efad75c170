"""Main-content extraction on real news pages: the article text fetch_page keeps and the boilerplate
it lets in, scored against hand-checked article texts.

Data: the test pages of newspaper4k 0.9.6 (MIT), tests/data/html/NAME.html with the article text in
tests/data/txt/NAME.txt, read from its sdist or from an extracted folder. The pages belong to their
publishers and are not in this repository; `make bench` downloads the sdist into build/bench-data/.

Score (the ScrapingHub article-extraction-benchmark's): text -> tokens (runs of Unicode word
characters) -> shingles of 4 consecutive tokens, counted as a multiset. Per page: tp = shingles in
both, fp = extra shingles in the extraction, fn = shingles it misses; precision = tp/(tp+fp), recall
= tp/(tp+fn). Precision and recall are averaged over pages (each page weighs the same) and F1 is taken
of the two averages; ± is 1.96 standard deviations over 1,000 bootstrap resamples of the pages.

Compared in the same run, offline (the extraction functions on the saved HTML, no network):
- fetch_page before: extract_main with its furniture rules off (what the project shipped before them);
- trafilatura alone: trafilatura.extract(html) with its defaults;
- fetch_page now: extract_main as fetch_page runs it.
The article texts carry no title, so the title heading extract_main puts on top is left out of the
"body" scores; the "as returned" line scores the Markdown exactly as fetch_page returns it.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, ms, print_header  # first: it puts the project on sys.path

from memento.servers.browse.extract import _trafilatura, extract_main

SDIST = "newspaper4k-0.9.6.tar.gz"
DEFAULT = ROOT / "build" / "bench-data"
HOW_TO_GET = (
    "the benchmark pages are missing. Get them with `make bench` (it downloads the sdist), or:\n"
    f"  .venv/bin/pip download --no-deps --no-binary :all: newspaper4k==0.9.6 -d {DEFAULT}\n"
    "then run this script again (or pass --data with the .tar.gz or an extracted folder)."
)
_WORD = re.compile(r"\w+")
SHINGLE = 4


@dataclass(frozen=True)
class Page:
    name: str
    html: str
    truth: str


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float


def load(data: Path) -> tuple[list[Page], list[str]]:
    """The pages with an article text, and the names of files that lack their partner."""
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
                    take(member.name, lambda m=member: archive.extractfile(m).read())  # type: ignore[union-attr]
    pages = [
        Page(name, htmls[name].decode("utf-8", "replace"), texts[name].decode("utf-8", "replace"))
        for name in sorted(htmls.keys() & texts.keys())
    ]
    unpaired = sorted((htmls.keys() | texts.keys()) - (htmls.keys() & texts.keys()))
    return pages, unpaired


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _WORD.findall(text)
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)] if tokens else [])
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def score(truth: str, extracted: str) -> Score:
    want, got = shingles(truth), shingles(extracted)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    if fp == fn == 0:
        return Score(1.0, 1.0)
    return Score(tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def summary(scores: list[Score]) -> tuple[float, float, float]:
    p = statistics.mean(s.precision for s in scores)
    r = statistics.mean(s.recall for s in scores)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def spread(scores: list[Score], rounds: int = 1000) -> tuple[float, float, float]:
    """1.96 standard deviations of (precision, recall, F1) over bootstrap resamples of the pages."""
    rng = random.Random(0)
    samples = [summary([rng.choice(scores) for _ in scores]) for _ in range(rounds)]
    return tuple(1.96 * statistics.stdev(column) for column in zip(*samples))  # type: ignore[return-value]


def body(markdown: str) -> str:
    """The Markdown without the title heading extract_main puts on top (the page's own h1 or its <title>)."""
    first, _, rest = markdown.partition("\n")
    return rest if first.startswith("# ") else markdown


def false_positives(truth: str, extracted: str) -> list[str]:
    """Lines of the extraction holding a shingle the article text lacks."""
    want = shingles(truth)
    return [line for line in extracted.splitlines() if line.strip() and any(s not in want for s in shingles(line))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help=f"the sdist or an extracted folder (default: {DEFAULT}/{SDIST} or a folder beside it)")
    parser.add_argument("--worst", type=int, default=5, help="how many of the least precise pages to list")
    parser.add_argument("--show", metavar="PAGE", help="print the lines of PAGE that fetch_page now keeps but the article text lacks")
    args = parser.parse_args()
    data = args.data or next((p for p in (DEFAULT / SDIST, DEFAULT / SDIST.removesuffix(".tar.gz")) if p.exists()), None)
    if data is None or not data.exists():
        print(f"{Path(__file__).name}: {HOW_TO_GET}", file=sys.stderr)
        return 2
    pages, unpaired = load(data)
    if not pages:
        print(f"{Path(__file__).name}: no html/txt pairs under {data}; {HOW_TO_GET}", file=sys.stderr)
        return 2

    if args.show:
        page = next(p for p in pages if p.name == args.show)
        got = extract_main(page.html, f"https://example.test/{page.name}")
        print("\n".join(false_positives(page.truth, body(got.markdown))))
        return 0

    print_header("browse server: main-content extraction on real news pages (newspaper4k 0.9.6 test pages)")
    print(f"data:    {data}")
    print(f"pages:   {len(pages)} with an article text; skipped {len(unpaired)} files without a partner ({', '.join(unpaired)})")
    print("score:   4-token shingles, precision/recall per page averaged over pages, F1 of the averages\n")

    trafilatura = _trafilatura()
    extract_main(pages[0].html, "https://example.test/")  # warm up: imports and first-call costs out of the timings
    rows: dict[str, list[Score]] = {"before": [], "before, as returned": [], "trafilatura": [], "now": [], "now, as returned": []}
    seconds: dict[str, list[float]] = {"before": [], "trafilatura": [], "now": []}
    for page in pages:
        url = f"https://example.test/{page.name}"
        for name, furniture in (("before", False), ("now", True)):
            start = time.perf_counter()
            got = extract_main(page.html, url, furniture=furniture)
            seconds[name].append(time.perf_counter() - start)
            rows[name].append(score(page.truth, body(got.markdown)))
            rows[f"{name}, as returned"].append(score(page.truth, got.markdown))
        start = time.perf_counter()
        alone = trafilatura.extract(page.html) or ""
        seconds["trafilatura"].append(time.perf_counter() - start)
        rows["trafilatura"].append(score(page.truth, alone))

    labels = {
        "before": "fetch_page before (body)",
        "before, as returned": "fetch_page before (as returned)",
        "trafilatura": "trafilatura alone, defaults",
        "now": "fetch_page now (body)",
        "now, as returned": "fetch_page now (as returned)",
    }
    print(f"{'extraction':<32} {'precision':>15} {'recall':>15} {'F1':>15} {'p50 time':>10}")
    for key, label in labels.items():
        p, r, f = summary(rows[key])
        dp, dr, df = spread(rows[key])
        timing = seconds.get(key)
        shown = ms(statistics.median(timing)) if timing else ""
        print(f"{label:<32} {p:>7.3f} ± {dp:.3f} {r:>7.3f} ± {dr:.3f} {f:>7.3f} ± {df:.3f} {shown:>10}")

    print(f"\n{args.worst} least precise pages now (body), with before and trafilatura alone:")
    print(f"{'page':<24} {'now P':>7} {'now R':>7} {'before P':>9} {'before R':>9} {'traf. P':>8} {'traf. R':>8}")
    order = sorted(range(len(pages)), key=lambda i: rows["now"][i].precision)
    for i in order[: args.worst]:
        now, before, alone = rows["now"][i], rows["before"][i], rows["trafilatura"][i]
        print(
            f"{pages[i].name:<24} {now.precision:>7.3f} {now.recall:>7.3f} {before.precision:>9.3f} {before.recall:>9.3f} "
            f"{alone.precision:>8.3f} {alone.recall:>8.3f}"
        )
    changed = [(pages[i].name, rows["before"][i], rows["now"][i]) for i in range(len(pages)) if rows["before"][i] != rows["now"][i]]
    print(f"\npages whose score changed: {len(changed)} of {len(pages)}")
    for name, before, now in changed:
        print(f"  {name:<24} precision {before.precision:.3f} -> {now.precision:.3f}   recall {before.recall:.3f} -> {now.recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
