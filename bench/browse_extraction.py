"""Main-content extraction on public benchmark pages: the article text fetch_page keeps and the boilerplate
it lets in, scored against each set's hand-made (or reviewed) article texts.

Sets (bench/extraction_sets.py says where each comes from and how to get it): newspaper4k's news pages,
Firefox Reader View's test pages (readability), CleanPortalEval's portal pages, fundus's pages of 181
publishers in 41 countries; the held-aside
ScrapingHub set is scored only when named with --set. A change to extraction is accepted only if no
set gets worse.

Score (the ScrapingHub article-extraction-benchmark's): text -> tokens (runs of Unicode word
characters) -> shingles of 4 consecutive tokens, counted as a multiset. Per page: tp = shingles in
both, fp = extra shingles in the extraction, fn = shingles it misses; precision = tp/(tp+fp), recall
= tp/(tp+fn). Precision and recall are averaged over pages (each page weighs the same) and F1 is taken
of the two averages; ± is 1.96 standard deviations over 1,000 bootstrap resamples of the pages.

Compared in the same run, offline (the extraction functions on the saved HTML, no network):
- fetch_page before: extract_main with its furniture rules off (trafilatura with our options);
- trafilatura alone: trafilatura.extract(html) with its defaults (the baseline on every set);
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
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from _common import ms, print_header  # first: it puts the project on sys.path
from extraction_sets import SETS, DataSet, Page

from memento.servers.browse.extract import _trafilatura, extract_main

_WORD = re.compile(r"\w+")
SHINGLE = 4


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float


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
    return tuple(1.96 * statistics.stdev(column) for column in zip(*samples))


def body(markdown: str) -> str:
    """The Markdown without the title heading extract_main puts on top (the page's own h1 or its <title>)."""
    first, _, rest = markdown.partition("\n")
    return rest if first.startswith("# ") else markdown


def false_positives(truth: str, extracted: str) -> list[str]:
    """Lines of the extraction holding a shingle the article text lacks."""
    want = shingles(truth)
    return [line for line in extracted.splitlines() if line.strip() and any(s not in want for s in shingles(line))]


def run_set(dataset: DataSet, pages: list[Page], worst: int) -> None:
    print(f"-- {dataset.name}: {dataset.title}, {len(pages)} pages")
    extract_main(pages[0].html, "https://example.test/")  # warm up: imports and first-call costs out of the timings
    trafilatura = _trafilatura()
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
    if dataset.held_aside:
        print()  # no page-level detail on the held-aside set: nothing to tune on
        return

    print(f"\n{worst} least precise pages now (body), with before and trafilatura alone:")
    print(f"{'page':<36} {'now P':>7} {'now R':>7} {'before P':>9} {'before R':>9} {'traf. P':>8} {'traf. R':>8}")
    order = sorted(range(len(pages)), key=lambda i: rows["now"][i].precision)
    for i in order[:worst]:
        now, before, alone = rows["now"][i], rows["before"][i], rows["trafilatura"][i]
        print(
            f"{pages[i].name[:36]:<36} {now.precision:>7.3f} {now.recall:>7.3f} {before.precision:>9.3f} {before.recall:>9.3f} "
            f"{alone.precision:>8.3f} {alone.recall:>8.3f}"
        )
    changed = sum(rows["before"][i] != rows["now"][i] for i in range(len(pages)))
    better = sum(summary([rows["now"][i]])[2] > summary([rows["before"][i]])[2] for i in range(len(pages)))
    print(f"pages whose score changed from before to now: {changed} of {len(pages)} ({better} better)\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set", action="append", choices=sorted(SETS), help="score only this set (repeatable); the held-aside set only when named"
    )
    parser.add_argument("--data", type=Path, help="with one --set: that set's archive or folder instead of its default place")
    parser.add_argument("--worst", type=int, default=5, help="how many of the least precise pages to list per set")
    parser.add_argument("--show", metavar="PAGE", help="with one --set: the lines of PAGE that fetch_page keeps but the article text lacks")
    args = parser.parse_args()
    names = args.set or [name for name, s in SETS.items() if not s.held_aside]
    if (args.data or args.show) and len(names) != 1:
        parser.error("--data and --show need exactly one --set")

    loaded: list[tuple[DataSet, list[Page]]] = []
    for name in names:
        dataset = SETS[name]
        data = args.data or dataset.default
        if not data.exists():
            print(f"{Path(__file__).name}: {name} is missing ({data}); {dataset.how_to_get}", file=sys.stderr)
            continue
        pages = dataset.load(data)
        if not pages:
            print(f"{Path(__file__).name}: no pages with a text under {data}; {dataset.how_to_get}", file=sys.stderr)
            continue
        loaded.append((dataset, pages))
    if not loaded:
        return 2

    if args.show:
        page = next(p for p in loaded[0][1] if p.name == args.show)
        got = extract_main(page.html, f"https://example.test/{page.name}")
        print("\n".join(false_positives(page.truth, body(got.markdown))))
        return 0

    print_header("browse server: main-content extraction on public benchmark pages")
    print("score:   4-token shingles, precision/recall per page averaged over pages, F1 of the averages\n")
    for dataset, pages in loaded:
        run_set(dataset, pages, args.worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
