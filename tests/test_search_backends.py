"""Each web backend against a fake of its vendor on 127.0.0.1, through the official MCP client.

For every vendor: a documented success answer, an empty one, a rejected key
(401), a rate limit with Retry-After, a server error, a body that is not JSON,
and an exhausted quota. The server runs in memory; the vendor is real HTTP.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.search_fakes import (
    WEB_VENDORS,
    FakeVendors,
    Reply,
    empty,
    malformed,
    quota,
    rate_limited,
    search_client,
    server_error,
    success,
    unauthorized,
)

pytestmark = pytest.mark.anyio

KEY_VARIABLES = {v: f"MEMENTO_{v.upper()}_API_KEY" for v in WEB_VENDORS} | {"searxng": "MEMENTO_SEARXNG_URL"}
EXPECTED_URLS = ["https://example.org/rivers", "https://www.example.com/harbour/", "https://garden.example.net/engine"]


def other_than(vendor: str) -> str:
    return "exa" if vendor != "exa" else "brave"


@pytest.mark.parametrize("vendor", WEB_VENDORS)
async def test_a_vendor_answer_becomes_ranked_results_with_title_url_snippet_and_date(
    vendor: str, fake: FakeVendors, memento_home: Path
) -> None:
    async with search_client(fake, memento_home, vendor) as client:
        result = await client.call_tool("web_search", {"query": "rivers in winter", "max_results": 3})
    assert not result.is_error, result.content[0].text
    hits = result.structured_content["results"]
    assert [h["url"] for h in hits] == EXPECTED_URLS  # tracking parameter dropped, order kept
    assert all(h["engines"] == [vendor] for h in hits)
    assert hits[0]["title"] == "Rivers in winter"
    assert hits[0]["snippet"] == "The rivers run high & fast."  # tags and entities gone
    assert "2024-05-01" in hits[0]["published"] and hits[1]["published"] is None
    text = result.content[0].text
    assert f"from {vendor}" in text and "1. Rivers in winter" in text and "https://garden.example.net/engine" in text
    [request] = fake.requests(vendor)
    assert request.query == "rivers in winter"


@pytest.mark.parametrize(
    ("vendor", "where", "expected"),
    [
        ("brave", "header:x-subscription-token", "test-key-brave"),
        ("tavily", "header:authorization", "Bearer test-key-tavily"),
        ("serper", "header:x-api-key", "test-key-serper"),
        ("serpapi", "param:api_key", "test-key-serpapi"),
        ("exa", "header:x-api-key", "test-key-exa"),
        ("searxng", "param:format", "json"),
    ],
)
async def test_each_vendor_gets_its_key_and_parameters_where_its_api_wants_them(
    vendor: str, where: str, expected: str, fake: FakeVendors, memento_home: Path
) -> None:
    async with search_client(fake, memento_home, vendor) as client:
        result = await client.call_tool(
            "web_search", {"query": "rivers", "max_results": 4, "page": 2, "time_range": "week", "site": "example.org", "language": "en"}
        )
    assert not result.is_error, result.content[0].text
    [request] = fake.requests(vendor)
    kind, name = where.split(":")
    assert (request.headers.get(name) if kind == "header" else request.params[name][0]) == expected
    sent = {"params": request.params, "json": request.json}
    checks = {
        "searxng": lambda s: (
            s["params"]["pageno"] == ["2"]
            and s["params"]["time_range"] == ["week"]
            and s["params"]["language"] == ["en"]
            and s["params"]["q"] == ["rivers site:example.org"]
        ),
        "brave": lambda s: (
            s["params"]["count"] == ["4"]
            and s["params"]["offset"] == ["1"]
            and s["params"]["freshness"] == ["pw"]
            and s["params"]["q"] == ["rivers site:example.org"]
        ),
        "tavily": lambda s: (
            s["json"]["max_results"] == 8 and s["json"]["time_range"] == "week" and s["json"]["include_domains"] == ["example.org"]
        ),
        "serper": lambda s: s["json"]["num"] == 4 and s["json"]["page"] == 2 and s["json"]["tbs"] == "qdr:w" and s["json"]["hl"] == "en",
        "serpapi": lambda s: s["params"]["engine"] == ["google"] and s["params"]["start"] == ["4"] and s["params"]["tbs"] == ["qdr:w"],
        "exa": lambda s: (
            s["json"]["numResults"] == 8
            and s["json"]["includeDomains"] == ["example.org"]
            and s["json"]["startPublishedDate"].endswith("Z")
        ),
    }
    assert checks[vendor](sent), sent


@pytest.mark.parametrize("vendor", WEB_VENDORS)
async def test_an_empty_answer_is_an_empty_result_not_an_error(vendor: str, fake: FakeVendors, memento_home: Path) -> None:
    fake.script(vendor, empty(vendor))
    async with search_client(fake, memento_home, vendor) as client:
        result = await client.call_tool("web_search", {"query": "xyzzy plugh"})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["results"] == []
    assert result.structured_content["attempts"][0]["status"] == "empty"
    assert "No results" in result.content[0].text


@pytest.mark.parametrize("vendor", WEB_VENDORS)
async def test_a_rejected_key_is_an_error_naming_the_variable_to_fix(vendor: str, fake: FakeVendors, memento_home: Path) -> None:
    fake.script(vendor, unauthorized(vendor))
    async with search_client(fake, memento_home, vendor) as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    text = result.content[0].text
    assert result.is_error
    assert KEY_VARIABLES[vendor] in text and "HTTP 401" in text
    assert "test-key" not in text  # the key itself is never shown
    assert len(fake.requests(vendor)) == 1  # a bad key is not retried


@pytest.mark.parametrize("vendor", WEB_VENDORS)
async def test_a_rate_limit_is_retried_after_the_time_retry_after_asks(vendor: str, fake: FakeVendors, memento_home: Path) -> None:
    fake.script(vendor, rate_limited(vendor, retry_after="1"), Reply(200, success(vendor)))
    async with search_client(fake, memento_home, vendor) as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert not result.is_error, result.content[0].text
    first, second = fake.requests(vendor)
    assert second.at - first.at >= 0.9  # Retry-After: 1 was honoured, not the 0.05 s backoff
    attempt = result.structured_content["attempts"][0]
    assert attempt["status"] == "ok" and attempt["tries"] == 2


@pytest.mark.parametrize("vendor", WEB_VENDORS)
async def test_a_server_error_is_retried_then_the_next_backend_answers(vendor: str, fake: FakeVendors, memento_home: Path) -> None:
    fake.script(vendor, server_error(vendor), server_error(vendor))
    other = other_than(vendor)
    async with search_client(fake, memento_home, vendor, other) as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert not result.is_error, result.content[0].text
    assert len(fake.requests(vendor)) == 2  # MEMENTO_SEARCH_RETRIES=1
    failed, answered = result.structured_content["attempts"]
    assert failed["status"] == "failed" and "HTTP 500" in failed["reason"] and "after 2 tries" in failed["reason"]
    assert answered["backend"] == other and answered["status"] == "ok"
    assert all(h["engines"] == [other] for h in result.structured_content["results"])
    assert f"Note: {vendor} failed" in result.content[0].text


@pytest.mark.parametrize("vendor", WEB_VENDORS)
async def test_a_body_that_is_not_json_is_reported_and_the_next_backend_answers(vendor: str, fake: FakeVendors, memento_home: Path) -> None:
    fake.script(vendor, malformed(vendor))
    async with search_client(fake, memento_home, vendor, other_than(vendor)) as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert not result.is_error, result.content[0].text
    failed = result.structured_content["attempts"][0]
    assert failed["status"] == "failed" and "not JSON" in failed["reason"]
    assert len(fake.requests(vendor)) == 1


@pytest.mark.parametrize("vendor", [v for v in WEB_VENDORS if v != "searxng"])
async def test_an_exhausted_quota_is_not_retried_and_says_so(vendor: str, fake: FakeVendors, memento_home: Path) -> None:
    fake.script(vendor, quota(vendor))
    async with search_client(fake, memento_home, vendor, other_than(vendor)) as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert not result.is_error, result.content[0].text
    failed = result.structured_content["attempts"][0]
    assert failed["status"] == "failed" and "quota exhausted" in failed["reason"]
    assert len(fake.requests(vendor)) == 1
