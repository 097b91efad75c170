"""The local index for real: built over generated documents (HTML, PDF, Word, text), searched, rebuilt incrementally.

Builds run the real converters in the documents worker pool and write a real
tantivy index; searches go through the official MCP client.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import anyio.to_thread
import pytest
from mcp import Client

from memento.servers.search.index.build import BuildReport, IndexBuilder
from memento.servers.search.index_cli import main as index_main
from memento.servers.search.server import build
from memento.servers.search.settings import SearchSettings
from tests import docgen
from tests.loopback import serving

pytestmark = pytest.mark.anyio


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for make in (
        docgen.make_pdf,
        docgen.make_html,
        docgen.make_text,
        docgen.make_markdown,
        docgen.make_docx,
        docgen.make_png_with_text,
        docgen.make_garbage,
        docgen.make_corrupt_pdf,
    ):
        make(folder)
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "nested" / "deeper" / "field-notes.txt").write_text("Observed a kingfisher near the weir at dawn.\n")
    (folder / ".hidden.txt").write_text("hidden-token must not be indexed\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("gitconfig-token\n")
    return folder


def index_settings(index_dir: Path, **extra: str) -> SearchSettings:
    return SearchSettings.from_env(
        {"MEMENTO_SEARCH_INDEX_DIR": str(index_dir), "MEMENTO_SEARCH_INDEX_WORKERS": "1", "MEMENTO_SEARCH_RATE_LIMITS": "*=0", **extra}
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """One corpus and its index, built once for the read-only tests of this module."""
    base = tmp_path_factory.mktemp("local-index")
    corpus = make_corpus(base / "corpus")
    report = IndexBuilder(index_settings(base / "index")).build([str(corpus)])
    return corpus, base / "index", report


@pytest.mark.slow
def test_a_build_indexes_documents_and_reports_what_it_skipped_and_why(built: tuple) -> None:
    corpus, _, report = built
    assert report.added == 6  # pdf, html, txt, md, docx, nested txt
    assert report.documents == 6
    assert {Path(s).name for s, _ in report.skipped} == {"sign.png", "blob.bin"}
    [(failed, reason)] = report.failed
    assert failed == str(corpus / "corrupt.pdf") and "damaged" in reason
    summary = report.summary()
    assert "6 new" in summary and "1 failed" in summary and "corrupt.pdf" in summary


async def test_search_local_finds_the_page_a_word_is_on(built: tuple) -> None:
    corpus, index_dir, _ = built
    async with Client(build(index_settings(index_dir))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "search_local" in names
        result = await client.call_tool("search_local", {"query": "pdf-page-2-token", "max_results": 3})
    assert not result.is_error, result.content[0].text
    [hit] = result.structured_content["results"]
    assert hit["source"] == str(corpus / "report.pdf") and hit["location"] == "page 2"
    assert hit["title"] == "Quarterly Report" and hit["format"] == "pdf"
    assert "pdf-page-2-token" in hit["snippet"]
    assert "read_document(source=PATH)" in result.content[0].text


@pytest.mark.parametrize(
    ("query", "file"),
    [
        ("html-body-token", "page.html"),
        ("docx-cell-token", "memo.docx"),
        ("md-token", "readme.md"),
        ("kingfishers at the weir", "field-notes.txt"),  # stemmed: kingfishers matches kingfisher
        ('text-token "unbalanced', "notes.txt"),  # a stray quote is not a syntax error
    ],
)
async def test_every_kind_of_document_is_searchable(built: tuple, query: str, file: str) -> None:
    _, index_dir, _ = built
    async with Client(build(index_settings(index_dir))) as client:
        result = await client.call_tool("search_local", {"query": query})
    assert not result.is_error, result.content[0].text
    assert Path(result.structured_content["results"][0]["source"]).name == file


async def test_a_file_is_listed_once_with_its_other_matching_pages(built: tuple) -> None:
    _, index_dir, _ = built
    async with Client(build(index_settings(index_dir))) as client:
        result = await client.call_tool("search_local", {"query": "quarterly figures growth regions"})
    hits = result.structured_content["results"]
    pdf = [h for h in hits if h["source"].endswith("report.pdf")]
    assert len(pdf) == 1 and len(pdf[0]["also"]) >= 1 and all(a.startswith("page ") for a in pdf[0]["also"])


async def test_hidden_files_and_folders_are_not_indexed(built: tuple) -> None:
    _, index_dir, _ = built
    async with Client(build(index_settings(index_dir))) as client:
        for word in ("hidden-token", "gitconfig-token"):
            result = await client.call_tool("search_local", {"query": word})
            assert result.structured_content["results"] == [], word


async def test_the_local_backend_makes_web_search_work_offline(built: tuple) -> None:
    corpus, index_dir, _ = built
    async with Client(build(index_settings(index_dir, MEMENTO_SEARCH_BACKENDS="local"))) as client:
        result = await client.call_tool("web_search", {"query": "project memo status"})
        listed = await client.call_tool("list_search_backends", {})
    assert not result.is_error, result.content[0].text
    top = result.structured_content["results"][0]
    assert top["url"] == str(corpus / "memo.docx") and top["engines"] == ["local"] and top["published"].startswith("2024-01-02")
    assert listed.structured_content["local_index_sections"] >= 8


async def test_without_an_index_search_local_is_not_offered_and_the_local_backend_says_how_to_build_one(tmp_path: Path) -> None:
    async with Client(build(index_settings(tmp_path / "none"))) as client:
        assert "search_local" not in {t.name for t in (await client.list_tools()).tools}
    async with Client(build(index_settings(tmp_path / "none", MEMENTO_SEARCH_BACKENDS="local"))) as client:
        result = await client.call_tool("web_search", {"query": "anything"})
        local = await client.call_tool("search_local", {"query": "anything"})
    assert result.is_error and "memento index build" in result.content[0].text
    assert local.is_error and "memento index build" in local.content[0].text


@pytest.mark.slow
async def test_a_rebuild_after_changes_converts_only_what_changed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docgen.make_text(corpus)
    docgen.make_markdown(corpus)
    docgen.make_html(corpus)
    settings = index_settings(tmp_path / "index")
    first = IndexBuilder(settings).build([str(corpus)])
    assert first.added == 3

    (corpus / "notes.txt").write_text("Meeting notes\n\nThe agenda now mentions a heron-token instead.\n")
    os.utime(corpus / "readme.md")  # touched, same bytes
    (corpus / "page.html").unlink()
    (corpus / "new.txt").write_text("A fresh file about otters.\n")
    second = IndexBuilder(settings).build()  # no arguments: refresh what the index covers
    assert (second.added, second.updated, second.removed, second.unchanged) == (1, 1, 1, 1)

    async with Client(build(settings)) as client:

        async def top(query: str) -> list[str]:
            result = await client.call_tool("search_local", {"query": query})
            return [Path(h["source"]).name for h in result.structured_content["results"]]

        assert await top("heron-token") == ["notes.txt"]
        assert await top("text-token") == []  # the old words are gone, not duplicated
        assert await top("otters") == ["new.txt"]
        assert await top("html-body-token") == []
        assert await top("md-token") == ["readme.md"]

    third = IndexBuilder(settings).build([str(corpus)], rebuild=True)
    assert third.added == 3 and third.documents == 3


@pytest.fixture
def site() -> Iterator[str]:
    pages = {
        "/guide.html": b"<html><head><title>Field Guide</title></head><body><p>The osprey-token nests on poles.</p></body></html>",
        "/notes.txt": b"Plain notes with the wren-token in them.\n",
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as base:
        yield base


@pytest.mark.slow
async def test_web_pages_are_indexed_from_urls_through_the_url_guard(site: str, tmp_path: Path) -> None:
    def build_index(settings: SearchSettings, urls: list[str] = []) -> BuildReport:  # noqa: B006
        return IndexBuilder(settings).build(urls=urls)  # the builder runs its own event loop: call it from a thread

    guarded = await anyio.to_thread.run_sync(build_index, index_settings(tmp_path / "guarded"), [f"{site}/guide.html"])
    assert guarded.added == 0 and "loopback" in guarded.failed[0][1]  # private addresses are refused by default

    settings = index_settings(tmp_path / "index", MEMENTO_ALLOWED_HOSTS="127.0.0.1")
    report = await anyio.to_thread.run_sync(build_index, settings, [f"{site}/guide.html", f"{site}/notes.txt", f"{site}/missing"])
    assert report.added == 2 and "HTTP 404" in report.failed[0][1]
    again = await anyio.to_thread.run_sync(build_index, settings)
    assert again.unchanged == 2 and again.added == again.updated == 0
    async with Client(build(settings)) as client:
        result = await client.call_tool("search_local", {"query": "osprey"})
    [hit] = result.structured_content["results"]
    assert hit["source"] == f"{site}/guide.html" and hit["title"] == "Field Guide"


def test_the_index_command_builds_and_describes_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    docgen.make_text(corpus)
    monkeypatch.setenv("MEMENTO_SEARCH_INDEX_WORKERS", "1")
    assert index_main(["status"]) == 0
    assert "There is no local index" in capsys.readouterr().out
    assert index_main(["build"]) == 1
    assert "Name the folders" in capsys.readouterr().err
    assert index_main(["build", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert index_main(["build", "--quiet", str(corpus)]) == 0
    assert "1 new" in capsys.readouterr().out
    assert index_main(["status"]) == 0
    status = capsys.readouterr().out
    assert "documents: 1 (1 sections)" in status and f"root:      {corpus}" in status


def test_an_index_folder_holding_other_files_is_never_overwritten(tmp_path: Path) -> None:
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    corpus = make_corpus_small(tmp_path / "c")
    from memento.servers.common.errors import AccessDenied

    with pytest.raises(AccessDenied, match="not a Memento index"):
        IndexBuilder(index_settings(foreign)).build([str(corpus)])
    assert (foreign / "thesis.tex").read_text() == "years of work"
    shutil.rmtree(corpus)


def make_corpus_small(folder: Path) -> Path:
    folder.mkdir()
    docgen.make_text(folder)
    return folder


def test_a_long_document_is_indexed_up_to_the_character_limit() -> None:
    from memento.servers.search.index.extract import extract_bytes

    cut = extract_bytes(b"word " * 1000, "long.txt", 1000)
    assert cut["truncated"] and sum(len(text) for _, text in cut["sections"]) == 1000
    whole = extract_bytes(b"short text", "short.txt", 1000)
    assert not whole["truncated"] and whole["title"] == "short text"


def test_an_embedding_ranker_is_fused_into_the_keyword_ranking(built: tuple) -> None:
    import numpy as np

    from memento.servers.search.index.semantic import EmbeddingRanker, fuse_orders
    from memento.servers.search.index.store import LocalIndex

    class StubEmbedder:
        """The query and any text about the memo point one way, everything else another."""

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[1.0, 0.0] if i == 0 or "memo" in t.lower() else [0.0, 1.0] for i, t in enumerate(texts)], dtype=np.float32)

    class BrokenEmbedder:
        def embed(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("no model here")

    _, index_dir, _ = built
    plain = LocalIndex(index_dir).search("the", 10)
    fused = LocalIndex(index_dir, semantic=EmbeddingRanker(StubEmbedder())).search("the", 10)
    memo = [h.source.endswith("memo.docx") for h in plain].index(True)
    semantic_order = sorted(range(len(plain)), key=lambda i: i != memo)
    assert [h.source for h in fused] == [h.source for h in fuse_orders(plain, semantic_order)]
    assert [h.source.endswith("memo.docx") for h in fused].index(True) <= memo
    broken = LocalIndex(index_dir, semantic=EmbeddingRanker(BrokenEmbedder())).search("the", 10)
    assert [h.source for h in broken] == [h.source for h in plain]  # the keyword ranking stands
