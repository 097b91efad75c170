"""Failures a model must be able to act on, and the engineering around backends: fallback, fusion, cache, many queries.

All through the official MCP client against the fake vendors on 127.0.0.1;
DuckDuckGo only through a stub of the ddgs client.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from mcp import Client

from memento.servers.common.settings import SettingsError
from memento.servers.search.server import build
from memento.servers.search.settings import SearchSettings
from tests.search_fakes import (
    PAGES,
    FakeVendors,
    Reply,
    rate_limited,
    search_client,
    server_error,
    success,
    unauthorized,
)

pytestmark = pytest.mark.anyio


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"query": "   "}, "query is empty"),
        ({"query": "x" * 10_240}, "10,240 characters; the limit is 1,000 (MEMENTO_SEARCH_MAX_QUERY_CHARS)"),
        ({"query": "rivers", "site": "not a domain!"}, "site must be a domain"),
        ({"query": "rivers", "language": "english please"}, "language must be a code"),
        ({"query": "rivers", "time_range": "decade"}, "time_range"),
        ({"query": "rivers", "max_results": 0}, "max_results"),
    ],
)
async def test_bad_input_is_a_tool_error_that_says_what_to_pass(
    arguments: dict, expected: str, fake: FakeVendors, memento_home: Path
) -> None:
    async with search_client(fake, memento_home, "brave") as client:
        result = await client.call_tool("web_search", arguments)
        assert result.is_error and expected in result.content[0].text
        still = await client.call_tool("web_search", {"query": "rivers"})
        assert not still.is_error  # the server lives on
    assert len(fake.requests("brave")) == 1  # bad input never reached the vendor


async def test_a_site_given_as_a_url_is_reduced_to_its_domain(fake: FakeVendors, memento_home: Path) -> None:
    async with search_client(fake, memento_home, "tavily") as client:
        result = await client.call_tool("web_search", {"query": "rivers", "site": "https://Docs.Python.org/3/library/"})
    assert not result.is_error
    assert fake.requests("tavily")[0].json["include_domains"] == ["docs.python.org"]


# -- failures -------------------------------------------------------------------------------------


async def test_a_searxng_without_the_json_format_says_how_to_enable_it(fake: FakeVendors, memento_home: Path) -> None:
    fake.script("searxng", Reply(403, "<html><body>403 Forbidden</body></html>"))
    async with search_client(fake, memento_home, "searxng") as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    text = result.content[0].text
    assert result.is_error and "search: formats: [html, json]" in text and "settings.yml" in text


async def test_brave_rejecting_its_token_with_422_is_a_key_problem(fake: FakeVendors, memento_home: Path) -> None:
    body = {
        "type": "ErrorResponse",
        "error": {
            "id": "x",
            "status": 422,
            "code": "SUBSCRIPTION_TOKEN_INVALID",
            "detail": "The provided subscription token is invalid.",
            "meta": {},
        },
    }
    fake.script("brave", Reply(422, body))
    async with search_client(fake, memento_home, "brave") as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert result.is_error and "MEMENTO_BRAVE_API_KEY" in result.content[0].text


async def test_when_every_backend_fails_the_error_lists_each_one_and_why(fake: FakeVendors, memento_home: Path) -> None:
    fake.script("brave", unauthorized("brave"))
    fake.script("tavily", server_error("tavily"), server_error("tavily"))
    fake.script("serper", Reply(200, "not json"))
    async with search_client(fake, memento_home, "brave", "tavily", "serper") as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    text = result.content[0].text
    assert result.is_error and "Every search backend failed" in text
    lines = {line.split(":")[0]: line for line in text.splitlines() if line.startswith("- ")}
    assert set(lines) == {"- brave", "- tavily", "- serper"}
    assert "MEMENTO_BRAVE_API_KEY" in lines["- brave"]
    assert "HTTP 500" in lines["- tavily"] and "not JSON" in lines["- serper"]


async def test_a_slow_backend_times_out_and_the_next_one_answers(fake: FakeVendors, memento_home: Path) -> None:
    fake.script("brave", Reply(200, success("brave"), delay_s=5))
    started = time.monotonic()
    async with search_client(fake, memento_home, "brave", "serper", MEMENTO_SEARCH_TIMEOUT_S="0.5") as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert not result.is_error
    assert time.monotonic() - started < 4
    failed = result.structured_content["attempts"][0]
    assert failed["status"] == "failed" and "within 0.5 s" in failed["reason"] and failed["tries"] == 1


async def test_a_retry_after_longer_than_the_limit_falls_back_at_once(fake: FakeVendors, memento_home: Path) -> None:
    fake.script("exa", rate_limited("exa", retry_after="3600"))
    started = time.monotonic()
    async with search_client(fake, memento_home, "exa", "serper") as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert not result.is_error and time.monotonic() - started < 5
    reason = result.structured_content["attempts"][0]["reason"]
    assert "retry after 3600 s" in reason and "MEMENTO_SEARCH_MAX_WAIT_S" in reason
    assert len(fake.requests("exa")) == 1


async def test_an_unreachable_backend_is_reported_without_its_key(fake: FakeVendors, memento_home: Path) -> None:
    extra = {"MEMENTO_SERPAPI_URL": "http://127.0.0.1:1/search.json"}  # nothing listens on port 1
    async with search_client(fake, memento_home, "serpapi", **extra) as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    text = result.content[0].text
    assert result.is_error and "could not connect to 127.0.0.1" in text and "MEMENTO_SERPAPI_URL" in text
    assert "test-key-serpapi" not in text


async def test_json_of_the_wrong_shape_is_named_as_such(fake: FakeVendors, memento_home: Path) -> None:
    fake.script("brave", Reply(200, {"type": "search", "web": {"results": {"oops": 1}}}))
    async with search_client(fake, memento_home, "brave") as client:
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert result.is_error and "unexpected shape" in result.content[0].text and "web.results" in result.content[0].text


async def test_a_named_backend_without_its_key_stops_the_server_naming_the_variable(memento_home: Path) -> None:
    settings = SearchSettings.from_env({"MEMENTO_SEARCH_BACKENDS": "duckduckgo,brave"})
    with pytest.raises(SettingsError, match="MEMENTO_BRAVE_API_KEY"):
        build(settings)
    with pytest.raises(SettingsError, match="choose from searxng, brave"):
        SearchSettings.from_env({"MEMENTO_SEARCH_BACKENDS": "google"})


# -- fallback order, fusion, cache ------------------------------------------------------------------


async def test_without_a_list_configured_backends_come_first_then_duckduckgo(fake: FakeVendors, memento_home: Path) -> None:
    env = {k: v for k, v in fake.env().items() if not k.endswith("_API_KEY") or "BRAVE" in k or "EXA" in k}
    settings = SearchSettings.from_env({"MEMENTO_HOME": str(memento_home), **env})
    async with Client(build(settings)) as client:
        listed = await client.call_tool("list_search_backends", {})
        assert listed.structured_content["active"] == ["searxng", "brave", "exa", "duckduckgo"]
        result = await client.call_tool("web_search", {"query": "rivers"})
    assert [a["backend"] for a in result.structured_content["attempts"]] == ["searxng"]  # the first answered


async def test_the_backend_list_shows_each_rate_and_burst_a_self_hosted_searxng_set_higher(fake: FakeVendors, memento_home: Path) -> None:
    limits = {"MEMENTO_SEARCH_RATE_LIMITS": "searxng=20", "MEMENTO_SEARCH_RATE_BURSTS": "searxng=10"}
    settings = SearchSettings.from_env({"MEMENTO_HOME": str(memento_home), **fake.env(), **limits})
    async with Client(build(settings)) as client:
        listed = await client.call_tool("list_search_backends", {})
    by_name = {b["name"]: b for b in listed.structured_content["backends"]}
    assert (by_name["searxng"]["rate_per_s"], by_name["searxng"]["burst"]) == (20, 10)
    assert "searxng: " in listed.content[0].text and "20 requests/s, bursts of 10" in listed.content[0].text
    defaults = SearchSettings.from_env({"MEMENTO_HOME": str(memento_home)})
    assert [defaults.rate_burst(name, rate) for name, rate in (("brave", 1.0), ("tavily", 1.5), ("exa", 5.0))] == [1, 1, 5]


async def test_fuse_mode_asks_every_backend_and_merges_their_rankings(fake: FakeVendors, memento_home: Path) -> None:
    only_serper = [("Serper only", "https://serper.example/only", "Just here.", None), PAGES[2]]
    fake.script("serper", Reply(200, success("serper", only_serper)))
    async with search_client(fake, memento_home, "brave", "serper", MEMENTO_SEARCH_MODE="fuse") as client:
        result = await client.call_tool("web_search", {"query": "rivers", "max_results": 10})
    hits = result.structured_content["results"]
    by_url = {h["url"]: h for h in hits}
    assert len(hits) == 4  # 3 + 2 with one shared page
    assert hits[0]["url"] == "https://garden.example.net/engine"  # found by both: fused to the top
    assert by_url["https://garden.example.net/engine"]["engines"] == ["brave", "serper"]
    assert hits[0]["score"] > hits[1]["score"]
    assert {a["backend"] for a in result.structured_content["attempts"]} == {"brave", "serper"}


async def test_a_repeated_query_is_answered_from_the_cache(fake: FakeVendors, memento_home: Path) -> None:
    async with search_client(fake, memento_home, "serper") as client:
        first = await client.call_tool("web_search", {"query": "Rivers  in winter"})
        again = await client.call_tool("web_search", {"query": "rivers in winter"})
        next_page = await client.call_tool("web_search", {"query": "rivers in winter", "page": 2})
    assert not first.structured_content["attempts"][0]["cached"]
    assert again.structured_content["attempts"][0]["cached"]
    assert again.structured_content["results"] == first.structured_content["results"]
    assert not next_page.structured_content["attempts"][0]["cached"]
    assert len(fake.requests("serper")) == 2


async def test_the_cache_can_be_turned_off(fake: FakeVendors, memento_home: Path) -> None:
    async with search_client(fake, memento_home, "serper", MEMENTO_SEARCH_CACHE_TTL_S="0") as client:
        for _ in range(2):
            await client.call_tool("web_search", {"query": "rivers"})
    assert len(fake.requests("serper")) == 2


async def test_beyond_its_burst_requests_to_one_backend_are_spaced_by_its_rate_limit(fake: FakeVendors, memento_home: Path) -> None:
    limits = {"MEMENTO_SEARCH_RATE_LIMITS": "serper=2", "MEMENTO_SEARCH_RATE_BURSTS": "serper=2"}
    async with search_client(fake, memento_home, "serper", **limits) as client:
        for word in ("one", "two", "three", "four"):
            await client.call_tool("web_search", {"query": word})
    times = [r.at for r in fake.requests("serper")]
    # 2 per second with a burst of 2: two tokens are spent at once, then one comes every half second
    assert times[2] - times[0] >= 0.45 and times[3] - times[2] >= 0.45 and times[3] - times[0] >= 0.95


# -- search_many ----------------------------------------------------------------------------------


def _pages_for(query: str) -> list[tuple[str, str, str, str | None]]:
    shared = ("Shared page", "https://shared.example/page", "Found by every query.", None)
    own = (f"About {query}", f"https://{query.split()[0]}.example/", f"Only {query}.", None)
    return [own, shared]


async def test_search_many_runs_the_queries_in_parallel_and_merges_them(fake: FakeVendors, memento_home: Path) -> None:
    fake.respond("serper", lambda seen: Reply(200, success("serper", _pages_for(seen.query)), delay_s=0.6))
    queries = ["alpha rivers", "beta rivers", "gamma rivers", "delta rivers", "epsilon rivers"]
    async with search_client(fake, memento_home, "serper") as client:
        started = time.monotonic()
        result = await client.call_tool("search_many", {"queries": queries, "max_results": 5})
        elapsed = time.monotonic() - started
    assert not result.is_error, result.content[0].text
    assert elapsed < 2.4  # one after another would take 3 s or more
    hits = result.structured_content["results"]
    assert hits[0]["url"] == "https://shared.example/page" and hits[0]["found_by"] == queries  # deduplicated, ranked first
    assert len(hits) == 6 and len({h["url"] for h in hits}) == 6
    assert "found by q1, q2, q3, q4, q5" in result.content[0].text


async def test_one_failing_query_does_not_fail_the_others(fake: FakeVendors, memento_home: Path) -> None:
    fake.respond("serper", lambda seen: server_error("serper") if "broken" in seen.query else None)
    async with search_client(fake, memento_home, "serper") as client:
        result = await client.call_tool("search_many", {"queries": ["rivers", "broken words"]})
    assert not result.is_error, result.content[0].text
    reports = {r["query"]: r for r in result.structured_content["per_query"]}
    assert reports["rivers"]["results"] == 3 and reports["rivers"]["error"] is None
    assert "HTTP 500" in reports["broken words"]["error"]
    assert "q2 failed" in result.content[0].text


async def test_search_many_searches_the_same_words_once_and_checks_its_limits(fake: FakeVendors, memento_home: Path) -> None:
    async with search_client(fake, memento_home, "serper", MEMENTO_SEARCH_MANY_MAX_QUERIES="3") as client:
        same = await client.call_tool("search_many", {"queries": ["Rivers", " rivers "]})
        too_many = await client.call_tool("search_many", {"queries": ["a", "b", "c", "d"]})
        blank = await client.call_tool("search_many", {"queries": ["rivers", ""]})
    assert same.structured_content["queries"] == ["Rivers"] and len(fake.requests("serper")) == 1
    assert too_many.is_error and "MEMENTO_SEARCH_MANY_MAX_QUERIES" in too_many.content[0].text
    assert blank.is_error and "queries[1] is empty" in blank.content[0].text


# -- DuckDuckGo, through a stub of the ddgs client --------------------------------------------------


class StubDDGS:
    """Stands in for ddgs.DDGS: records the call, returns rows or raises what it was given."""

    calls: ClassVar[list[dict[str, Any]]] = []
    outcome: Any = None

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def text(self, query: str, **kwargs: Any) -> list[dict[str, str]]:
        StubDDGS.calls.append({"query": query, **kwargs})
        if isinstance(StubDDGS.outcome, Exception):
            raise StubDDGS.outcome
        return StubDDGS.outcome


@pytest.fixture
def ddgs_stub(monkeypatch: pytest.MonkeyPatch) -> type[StubDDGS]:
    StubDDGS.calls = []
    StubDDGS.outcome = [
        {
            "title": "Wrapped",
            "href": "https://duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.org%2Fa%3Fid%3D1&rut=x",
            "body": "A <b>body</b>",
        },
        {"title": "Plain", "href": "https://example.net/b", "body": "Another"},
    ]
    monkeypatch.setattr("memento.servers.search.backends.ddg.make_client", StubDDGS)
    return StubDDGS


async def test_duckduckgo_results_are_parsed_from_the_ddgs_rows(ddgs_stub: type[StubDDGS], memento_home: Path) -> None:
    settings = SearchSettings.from_env({"MEMENTO_SEARCH_RATE_LIMITS": "*=0"})
    async with Client(build(settings)) as client:
        result = await client.call_tool(
            "web_search", {"query": "rivers", "language": "de", "time_range": "week", "site": "example.org", "page": 2}
        )
    assert not result.is_error, result.content[0].text
    hits = result.structured_content["results"]
    assert [h["url"] for h in hits] == ["https://example.org/a?id=1", "https://example.net/b"]  # redirect wrapper removed
    assert hits[0]["snippet"] == "A body" and hits[0]["engines"] == ["duckduckgo"]
    [call] = ddgs_stub.calls
    assert call["query"] == "rivers site:example.org" and call["region"] == "de-de" and call["timelimit"] == "w"
    assert call["page"] == 2 and call["backend"] == "duckduckgo" and call["safesearch"] == "moderate"


async def test_duckduckgo_failures_become_reasons(ddgs_stub: type[StubDDGS], memento_home: Path) -> None:
    from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

    settings = SearchSettings.from_env(
        {"MEMENTO_SEARCH_RATE_LIMITS": "*=0", "MEMENTO_SEARCH_BACKOFF_S": "0.01", "MEMENTO_SEARCH_CACHE_TTL_S": "0"}
    )
    async with Client(build(settings)) as client:
        ddgs_stub.outcome = DDGSException("No results found.")
        nothing = await client.call_tool("web_search", {"query": "rivers"})
        assert not nothing.is_error and nothing.structured_content["results"] == []
        ddgs_stub.outcome = RatelimitException("202 Ratelimit")
        limited = await client.call_tool("web_search", {"query": "rivers"})
        assert limited.is_error and "rate limited" in limited.content[0].text and "after 3 tries" in limited.content[0].text
        ddgs_stub.outcome = TimeoutException("timed out")
        slow = await client.call_tool("web_search", {"query": "rivers"})
        assert slow.is_error and "MEMENTO_SEARCH_TIMEOUT_S" in slow.content[0].text


async def test_a_backend_with_a_rejected_key_is_rested_instead_of_asked_again(fake: FakeVendors, memento_home: Path) -> None:
    fake.script("brave", unauthorized("brave"))
    async with search_client(fake, memento_home, "brave", "serper", MEMENTO_SEARCH_CACHE_TTL_S="0") as client:
        await client.call_tool("web_search", {"query": "rivers"})
        second = await client.call_tool("web_search", {"query": "harbour"})
    assert len(fake.requests("brave")) == 1
    skipped = second.structured_content["attempts"][0]
    assert skipped["backend"] == "brave" and skipped["tries"] == 0
    assert "skipped for" in skipped["reason"] and "MEMENTO_BRAVE_API_KEY" in skipped["reason"]
    assert second.structured_content["attempts"][1]["status"] == "ok"
