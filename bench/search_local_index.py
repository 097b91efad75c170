"""Local search index: build time for 10,000 generated documents, incremental rebuilds, and query latency.

The corpus mixes plain text, Markdown, HTML and two-page PDFs of random prose
(fixed seed). The build converts every file with the documents converters in
the conversion worker pool and writes a tantivy index. Queries are 1-3 words
from the corpus vocabulary, timed as a library call (`LocalIndex.search`) and
end to end as `search_local` over stdio, and with the optional embedding fusion
on (the memory package's MiniLM re-ranking the returned candidates). Goal: query
p50 < 20 ms (keyword search; the fusion is opt-in and shown for its cost).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

import anyio
from _common import ms, percentile, print_header
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from memento.servers.search.index.build import IndexBuilder
from memento.servers.search.index.semantic import EmbeddingRanker
from memento.servers.search.index.store import LocalIndex
from memento.servers.search.settings import SearchSettings
from tests.docgen import WORDS

DOCUMENTS = int(os.environ.get("BENCH_DOCUMENTS", "10000"))
MIX = (("txt", 0.60), ("md", 0.20), ("html", 0.18), ("pdf", 0.02))
QUERIES = 300
GOAL_MS = 20.0


def _prose(rng: random.Random, words: int) -> str:
    sentences = []
    while words > 0:
        n = min(words, rng.randint(8, 18))
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
        words -= n
    return " ".join(sentences)


def make_corpus(folder: Path, count: int) -> dict[str, int]:
    import pymupdf

    rng = random.Random(20261126)
    made = dict.fromkeys((kind for kind, _ in MIX), 0)
    kinds = [kind for kind, share in MIX for _ in range(round(share * 100))]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        sub = folder / f"part{i % 50:02d}"
        sub.mkdir(exist_ok=True)
        title = " ".join(rng.choice(WORDS) for _ in range(4)).title()
        body = _prose(rng, rng.randint(150, 450))
        path = sub / f"doc{i:05d}.{kind}"
        if kind == "txt":
            path.write_text(f"{title}\n\n{body}\n")
        elif kind == "md":
            path.write_text(f"# {title}\n\n{body}\n\n- {_prose(rng, 12)}\n")
        elif kind == "html":
            path.write_text(f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{body}</p></body></html>")
        else:
            pdf = pymupdf.open()
            for half in (body[: len(body) // 2], body[len(body) // 2 :]):
                page = pdf.new_page()
                page.insert_textbox(pymupdf.Rect(72, 72, 523, 770), half, fontsize=10)
            pdf.set_metadata({"title": title})
            path.write_bytes(pdf.tobytes())
            pdf.close()
        made[kind] += 1
    return made


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


async def over_stdio(home: Path, queries: list[str]) -> list[float]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MEMENTO_HOME": str(home),
        "MEMENTO_LOG_LEVEL": "WARNING",
        "MEMENTO_SEARCH_BACKENDS": "local",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "memento.servers.search"], env=env)
    times = []
    async with Client(params, mode="legacy") as client:
        for query in queries[:20]:  # warm-up
            await client.call_tool("search_local", {"query": query})
        for query in queries:
            started = time.perf_counter()
            result = await client.call_tool("search_local", {"query": query, "max_results": 10})
            times.append(time.perf_counter() - started)
            if result.is_error:
                raise RuntimeError(result.content[0].text)
    return times


def main() -> None:
    print_header(f"search server: local index of {DOCUMENTS:,} documents (build, incremental rebuild, query latency)")
    with tempfile.TemporaryDirectory(prefix="memento-bench-index-") as tmp:
        root = Path(tmp)
        corpus, home = root / "corpus", root / "home"
        corpus.mkdir()
        started = time.perf_counter()
        made = make_corpus(corpus, DOCUMENTS)
        print(
            f"corpus:  {', '.join(f'{n:,} {k}' for k, n in made.items())}; {folder_size(corpus) / 1e6:.1f} MB; "
            f"generated in {time.perf_counter() - started:.1f} s"
        )
        settings = SearchSettings.from_env({"MEMENTO_HOME": str(home)})
        print(f"workers: {settings.search_index_workers} conversion processes (MEMENTO_SEARCH_INDEX_WORKERS)")

        report = IndexBuilder(settings).build([str(corpus)])
        assert report.added == DOCUMENTS and not report.failed, report.summary()
        print(
            f"full build:         {report.seconds:6.1f} s  ({DOCUMENTS / report.seconds:,.0f} documents/s; "
            f"{report.sections:,} sections; index {folder_size(settings.index_dir) / 1e6:.1f} MB)"
        )
        again = IndexBuilder(settings).build()
        print(f"rebuild, no change: {again.seconds:6.1f} s  ({again.unchanged:,} unchanged, nothing converted)")
        changed = sorted(corpus.rglob("*.txt"))[:10]
        for path in changed:
            path.write_text(path.read_text() + "\nAn added line about a kingfisher.\n")
        delta = IndexBuilder(settings).build()
        print(f"rebuild, 10 edited: {delta.seconds:6.1f} s  ({delta.updated} updated, {delta.unchanged:,} unchanged)")

        rng = random.Random(7)
        queries = [" ".join(rng.choice(WORDS[60:]) for _ in range(rng.randint(1, 3))) for _ in range(QUERIES)]
        index = LocalIndex(settings.index_dir)
        for query in queries[:20]:
            index.search(query, 10)
        library = []
        for query in queries:
            started = time.perf_counter()
            index.search(query, 10)
            library.append(time.perf_counter() - started)
        stdio = anyio.run(over_stdio, home, queries)
        semantic_index = LocalIndex(settings.index_dir, semantic=EmbeddingRanker())
        started = time.perf_counter()
        semantic_index.search(queries[0], 10)  # loads torch and the model
        print(f"semantic fusion (MEMENTO_SEARCH_LOCAL_SEMANTIC=true): model loaded in {time.perf_counter() - started:.1f} s")
        semantic = []
        for query in queries[:100]:
            started = time.perf_counter()
            semantic_index.search(query, 10)
            semantic.append(time.perf_counter() - started)
        runs = (("library call", library), ("search_local over stdio", stdio), ("library, semantic fusion on", semantic))
        for label, times in runs:
            p50 = percentile(times, 50)
            verdict = "MET" if p50 * 1000 < GOAL_MS else "NOT MET"
            goal = f"   goal p50 < {GOAL_MS:g} ms -> {verdict}" if times is not semantic else "   (opt-in; no goal)"
            print(f"query, {label:27} {len(times)} queries: p50 {ms(p50)}  p95 {ms(percentile(times, 95))}  max {ms(max(times))}{goal}")


if __name__ == "__main__":
    main()
