"""Extraction quality on the test site's articles: the share of the true main text that fetch_page
returns, and the share of the boilerplate around it (cookie banner, newsletter, ads, "most read",
comments, share bar, footer) that it leaves out. Compared in the same run with the whole page converted
to Markdown by the documents reader (what a reader without main-content extraction returns)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio
from _common import print_header  # first: it puts the project on sys.path
from mcp import Client

from memento.convert.formats.markup import html_to_markdown
from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from tests.browse_site import ARTICLES, Article, Site


def _norm(text: str) -> str:
    return " ".join(text.replace("*", "").replace("|", " ").split()).lower()


def score(article: Article, output: str) -> tuple[float, float]:
    """(share of main sentences present, share of boilerplate sentences absent)."""
    text = _norm(output)
    kept = sum(_norm(s) in text for s in article.main) / len(article.main)
    out = sum(_norm(s) not in text for s in article.boilerplate) / len(article.boilerplate)
    return kept, out


async def main() -> None:
    print_header("browse server: extraction quality on the test site's articles")
    with Site() as site, tempfile.TemporaryDirectory(prefix="memento-bench-quality-") as tmp:
        settings = BrowseSettings(home=Path(tmp), allowed_hosts=["127.0.0.1"])
        articles = [*ARTICLES, site.big]
        rows = []
        async with Client(build(settings)) as client:
            for article in articles:
                reply = await client.call_tool("fetch_page", {"url": site.url(article.path), "render": "never", "max_length": 1_000_000})
                if reply.is_error:
                    raise RuntimeError(reply.content[0].text)
                ours = score(article, reply.structured_content["page"]["content"])
                whole = score(article, html_to_markdown(article.html))
                rows.append((article, ours, whole))
    print(f"{'article':<40} {'fetch_page: main kept':>22} {'boilerplate out':>16}   {'whole page: main kept':>22} {'boilerplate out':>16}")
    for article, ours, whole in rows:
        print(f"{article.title[:40]:<40} {ours[0]:>21.0%} {ours[1]:>16.0%}   {whole[0]:>21.0%} {whole[1]:>16.0%}")
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    print(
        f"{'mean':<40} {mean([r[1][0] for r in rows]):>21.0%} {mean([r[1][1] for r in rows]):>16.0%}   "
        f"{mean([r[2][0] for r in rows]):>21.0%} {mean([r[2][1] for r in rows]):>16.0%}"
    )
    print(
        f"\n{sum(len(a.main) for a, _, _ in rows)} main-text sentences and {sum(len(a.boilerplate) for a, _, _ in rows)} boilerplate sentences in {len(rows)} articles."
    )


if __name__ == "__main__":
    sys.exit(anyio.run(main))
