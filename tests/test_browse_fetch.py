"""fetch_page, find_in_page and page_links over HTTP, through the MCP client, against the loopback test site."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client

from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from tests.browse_site import ARTICLES, Site

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browse-home")


@pytest.fixture(scope="module")
async def client(home: Path) -> AsyncIterator[Client]:
    settings = BrowseSettings(home=home, allowed_hosts=["127.0.0.1"], http_timeout_s=5)
    async with Client(build(settings)) as running:
        yield running


async def fetch(client: Client, **arguments):
    reply = await client.call_tool("fetch_page", arguments)
    assert not reply.is_error, reply.content[0].text
    return reply.structured_content, reply.content[0].text


async def test_an_article_reads_as_its_main_content_with_title_date_and_final_url(client: Client, site: Site) -> None:
    article = ARTICLES[1]
    result, _ = await fetch(client, url=site.url("/redirect/3"), render="never")
    assert result["url"] == site.url("/article/1") and result["requested_url"] == site.url("/redirect/3")
    result, text = await fetch(client, url=site.url(article.path), render="never")
    assert result["title"].startswith(article.title) and result["published"] == article.published
    assert result["format"] == "html" and not result["rendered"]
    for sentence in article.main[:5]:
        assert sentence in text
    for sentence in article.boilerplate:
        assert sentence not in text
    assert "| terns-site-3 | 51 |" in text and "- terns checklist item 2" in text


async def test_page_text_is_fenced_as_untrusted_content(client: Client, site: Site) -> None:
    _, text = await fetch(client, url=site.url("/injection"))
    assert "untrusted data" in text.split("<untrusted-page-content")[0]
    inner = text.split("<untrusted-page-content", 1)[1]
    assert "Ignore all previous instructions" in inner
    assert inner.count("</untrusted-page-content>") == 1  # the page's fake closing tag was escaped


async def test_a_second_fetch_of_a_page_comes_from_the_cache(client: Client, site: Site, home: Path) -> None:
    url = site.url("/article/3")
    first, _ = await fetch(client, url=url, render="never")
    hits = site.hits["/article/3"]
    second, _ = await fetch(client, url=url, render="never", start_index=100)
    assert not first["from_cache"] and second["from_cache"]
    assert site.hits["/article/3"] == hits
    assert any((home / "cache" / "http").glob("*.body"))


async def test_a_query_brings_the_passages_about_it_first(client: Client, site: Site) -> None:
    result, text = await fetch(client, url=site.url("/article/4"), query="checklist item", render="never")
    assert result["matching_passages"] >= 1
    body = text.split("<untrusted-page-content", 1)[1]
    assert body.index("microbes checklist item") < body.index("Findings of the microbes survey")
    assert "<!-- passage" in body


async def test_reading_part_after_part_gives_back_the_whole_text(client: Client, site: Site) -> None:
    url = site.url(ARTICLES[0].path)
    whole, _ = await fetch(client, url=url, render="never", max_length=1_000_000)
    parts, start = [], 0
    while start is not None:
        result, text = await fetch(client, url=url, render="never", start_index=start, max_length=700)
        parts.append(result["page"]["content"])
        if result["page"]["next_start_index"] is not None:
            assert f"start_index={result['page']['next_start_index']}" in text
        start = result["page"]["next_start_index"]
    assert len(parts) > 3 and "".join(parts) == whole["page"]["content"]


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_compressed_pages_are_read(client: Client, site: Site, encoding: str) -> None:
    _, text = await fetch(client, url=site.url(f"/{encoding}-article"))
    assert ARTICLES[0].main[0] in text


async def test_a_pdf_is_converted_by_the_documents_converters(client: Client, site: Site) -> None:
    result, text = await fetch(client, url=site.url("/report.pdf"))
    assert result["format"] == "pdf" and result["title"] == "Quarterly Report"
    assert "pdf-page-2-token" in text and "<!-- page 2 of 3 -->" in text


@pytest.mark.parametrize(("path", "fmt", "token"), [("/data.json", "json", "json-token"), ("/plain.txt", "text", "plain-token")])
async def test_other_documents_are_converted_too(client: Client, site: Site, path: str, fmt: str, token: str) -> None:
    result, text = await fetch(client, url=site.url(path))
    assert result["format"] == fmt and token in text


async def test_a_page_with_a_wrong_charset_label_reads_correctly(client: Client, site: Site) -> None:
    _, text = await fetch(client, url=site.url("/mislabelled"))
    assert "Crème brûlée at the café: “charset-token” — naïve." in text


async def test_find_in_page_shows_each_match_with_context(client: Client, site: Site) -> None:
    reply = await client.call_tool(
        "find_in_page", {"url": site.url(ARTICLES[0].path), "pattern": "tidal-site-[23]", "regex": True, "context_chars": 30}
    )
    assert not reply.is_error
    assert reply.structured_content["count"] == 2
    assert "**tidal-site-2**" in reply.content[0].text
    reply = await client.call_tool("find_in_page", {"url": site.url(ARTICLES[0].path), "pattern": "Privacy policy"})
    assert reply.structured_content["count"] == 1  # the whole page is searched, footer included
    reply = await client.call_tool("find_in_page", {"url": site.url(ARTICLES[0].path), "pattern": "no such words anywhere"})
    assert not reply.is_error and reply.structured_content["count"] == 0 and "No match" in reply.content[0].text


async def test_page_links_lists_absolute_links_and_filters_them(client: Client, site: Site) -> None:
    reply = await client.call_tool("page_links", {"url": site.url("/links")})
    text = reply.content[0].text
    assert reply.structured_content["count"] == 4
    assert f"[Introduction]({site.url('/docs/intro.html')})" in text and "mailto:" not in text
    reply = await client.call_tool("page_links", {"url": site.url("/links"), "contains": ".pdf"})
    assert reply.structured_content["count"] == 2


async def test_a_document_has_no_links_to_list(client: Client, site: Site) -> None:
    reply = await client.call_tool("page_links", {"url": site.url("/report.pdf")})
    assert not reply.is_error and reply.structured_content["count"] == 0 and "pdf document" in reply.content[0].text
