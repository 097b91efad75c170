"""The search server's pure parts: URL clean-up, rank fusion, the cache, pacing, query checks, settings."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import anyio
import pytest

from memento.servers.common.errors import InvalidInput
from memento.servers.common.settings import SettingsError
from memento.servers.search.backends import backend_names
from memento.servers.search.cache import TTLCache
from memento.servers.search.fusion import fuse
from memento.servers.search.index.semantic import fuse_orders
from memento.servers.search.model import Query, SearchResult
from memento.servers.search.pacing import RateLimiter, backoff_delay, parse_retry_after
from memento.servers.search.settings import SearchSettings
from memento.servers.search.urlnorm import clean_url, dedup_key


@pytest.mark.parametrize(
    ("url", "cleaned"),
    [
        ("https://Example.ORG:443/a?utm_source=x&id=2&fbclid=y#part", "https://example.org/a?id=2"),
        ("http://example.org:8080/path/", "http://example.org:8080/path/"),
        ("https://duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.org%2Fa&rut=abc", "https://example.org/a"),
        ("https://www.google.com/url?q=https://example.org/b&sa=U", "https://example.org/b"),
        ("//cdn.example.org/x", "https://cdn.example.org/x"),
        ("https://user:secret@example.org/", "https://user@example.org/"),
        ("https://example.org/caf%C3%A9 menu", "https://example.org/caf%C3%A9%20menu"),
        ("/home/me/report.pdf", "/home/me/report.pdf"),
    ],
)
def test_urls_are_cleaned_for_display(url: str, cleaned: str) -> None:
    assert clean_url(url) == cleaned


def test_copies_of_one_page_share_a_dedup_key() -> None:
    same = [
        "https://www.example.org/docs/",
        "http://example.org/docs",
        "https://example.org/docs/index.html",
        "https://EXAMPLE.org/docs?utm_campaign=z",
    ]
    assert len({dedup_key(u) for u in same}) == 1
    assert dedup_key("https://example.org/docs?b=2&a=1") == dedup_key("https://example.org/docs?a=1&b=2")
    assert dedup_key("https://example.org/docs?page=2") != dedup_key("https://example.org/docs?page=3")


def _hit(url: str, engine: str = "a", snippet: str = "", published: str | None = None) -> SearchResult:
    return SearchResult(title=url, url=url, snippet=snippet, published=published, engines=[engine])


def test_rank_fusion_lifts_what_several_lists_agree_on() -> None:
    first = [_hit("https://a.org/1"), _hit("https://a.org/2"), _hit("https://a.org/3")]
    second = [_hit("https://a.org/3", "b", snippet="from b", published="2024-01-01"), _hit("https://b.org/9", "b")]
    fused = fuse([first, second])
    assert next(f.hit.url for f in fused) == "https://a.org/3"
    top = fused[0]
    assert top.hit.engines == ["a", "b"] and top.lists == [0, 1]
    assert top.hit.snippet == "from b" and top.hit.published == "2024-01-01"  # filled from the other copy
    assert top.hit.score == pytest.approx(1 / 63 + 1 / 61, abs=1e-6)
    assert first[2].engines == ["a"]  # inputs are not changed


def test_a_page_listed_twice_by_one_engine_counts_once() -> None:
    fused = fuse([[_hit("https://a.org/1"), _hit("http://www.a.org/1/"), _hit("https://a.org/2")]])
    assert [f.hit.url for f in fused] == ["https://a.org/1", "https://a.org/2"]
    assert fused[1].hit.score == pytest.approx(1 / 62, abs=1e-6)  # the duplicate took no rank


def test_semantic_order_is_fused_with_the_keyword_order() -> None:
    assert fuse_orders(["a", "b", "c", "d"], [3, 0, 1, 2]) == ["a", "d", "b", "c"]  # d, semantically first, moves up
    assert fuse_orders(["a", "b", "c"], [0, 1, 2]) == ["a", "b", "c"]


def test_cached_answers_expire_and_the_oldest_go_first() -> None:
    now = [0.0]
    cache: TTLCache[str] = TTLCache(ttl_s=10, max_entries=2, clock=lambda: now[0])
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"
    cache.put("c", "C")  # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("c") == "C"
    now[0] = 10.5
    assert cache.get("a") is None and len(cache) == 1
    off: TTLCache[str] = TTLCache(ttl_s=0, max_entries=5)
    off.put("a", "A")
    assert off.get("a") is None


@pytest.mark.anyio
async def test_a_burst_goes_through_at_once_and_the_next_request_waits_for_a_token() -> None:
    limiter = RateLimiter(rate=0.5, burst=5)  # one token every 2 s: a wait would show
    assert [await limiter.wait() for _ in range(5)] == [0.0] * 5
    assert not limiter.has_token()
    assert await RateLimiter(rate=0).wait() == 0.0 and RateLimiter(rate=0).has_token()


@pytest.mark.anyio
async def test_beyond_the_burst_requests_start_in_arrival_order_spaced_by_the_rate() -> None:
    rate = 20.0  # a token every 50 ms
    limiter = RateLimiter(rate=rate, burst=2)
    loop = asyncio.get_running_loop()
    starts: list[tuple[int, float, float]] = []

    async def request(i: int) -> None:
        delay = await limiter.wait()
        starts.append((i, loop.time(), delay))

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(request, i)
            await anyio.sleep(0)  # arrive in order
    assert [i for i, _, _ in starts] == list(range(6))
    assert [delay for _, _, delay in starts[:2]] == [0.0, 0.0] and all(delay > 0 for _, _, delay in starts[2:])
    times = [t for _, t, _ in starts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[1:])]
    assert all(gap >= 0.9 / rate for gap in gaps)  # never closer than the rate allows (a lower bound: load only adds)


def test_the_burst_is_the_rate_rounded_down_unless_a_setting_says_otherwise() -> None:
    assert RateLimiter(rate=2.5).burst == 2 and RateLimiter(rate=0.5).burst == 1 and RateLimiter(rate=5, burst=1).burst == 1
    settings = SearchSettings.from_env({"MEMENTO_SEARCH_RATE_BURSTS": "searxng=20", "MEMENTO_SEARCH_RATE_LIMITS": "searxng=30"})
    assert settings.rate_burst("searxng", 5.0) == 20
    assert settings.rate_burst("brave", 1.0) == 1 and settings.rate_burst("serper", 5.0) == 5
    assert SearchSettings.from_env({"MEMENTO_SEARCH_RATE_LIMITS": "exa=7.5"}).rate_burst("exa", 5.0) == 7
    with pytest.raises(SettingsError, match="MEMENTO_SEARCH_RATE_BURSTS"):
        SearchSettings.from_env({"MEMENTO_SEARCH_RATE_BURSTS": "searxng=0"})


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_doubles_with_a_little_jitter() -> None:
    delays = [backoff_delay(0.5, attempt) for attempt in range(3)]
    for attempt, delay in enumerate(delays):
        assert 0.5 * 2**attempt <= delay <= 0.5 * 2**attempt * 1.25


def test_engines_without_pages_ask_for_enough_results_and_slice() -> None:
    assert Query("q", max_results=10, page=1).window(20) == (10, 0)
    assert Query("q", max_results=10, page=2).window(20) == (20, 10)
    assert Query("q", max_results=15, page=2).window(20) == (20, 15)


def test_automatic_choice_takes_configured_backends_then_duckduckgo() -> None:
    assert backend_names(SearchSettings.from_env({})) == ["duckduckgo"]
    settings = SearchSettings.from_env({"MEMENTO_EXA_API_KEY": "k", "MEMENTO_SEARXNG_URL": "http://127.0.0.1:8888/"})
    assert backend_names(settings) == ["searxng", "exa", "duckduckgo"]
    assert settings.searxng_url == "http://127.0.0.1:8888"
    assert backend_names(SearchSettings.from_env({"MEMENTO_SEARCH_BACKENDS": "local,duckduckgo"})) == ["local", "duckduckgo"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMENTO_SEARCH_BACKENDS", "bing"),
        ("MEMENTO_SEARCH_RATE_LIMITS", "brave:fast"),
        ("MEMENTO_SEARCH_RATE_BURSTS", "searxng=1.5"),
        ("MEMENTO_SEARCH_MODE", "both"),
        ("MEMENTO_SEARXNG_URL", "searx.local"),
        ("MEMENTO_SEARCH_RETRIES", "9"),
    ],
)
def test_a_bad_search_setting_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable}={value!r} is not valid"):
        SearchSettings.from_env({variable: value})


def test_keys_never_show_in_the_settings_repr_or_defaults() -> None:
    settings = SearchSettings.from_env({"MEMENTO_BRAVE_API_KEY": "very-secret"})
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.model_dump())
    assert settings.rate_limit("brave", 1.0) == 1.0
    assert SearchSettings.from_env({"MEMENTO_SEARCH_RATE_LIMITS": "*=0,brave=3"}).rate_limit("brave", 1.0) == 3.0


def test_bad_query_parts_are_refused_before_any_request() -> None:
    from memento.servers.search.service import SearchService

    service = SearchService(SearchSettings.from_env({}), http=None, backends=[])  # type: ignore[arg-type]
    query = service.make_query("  solar\n panels  ", 5, 1, "month", "https://www.nature.com/articles", "pt-BR")
    assert query.text == "solar panels" and query.site == "www.nature.com" and query.language == "pt-BR"
    with pytest.raises(InvalidInput, match="site must be a domain"):
        service.make_query("x", site="exa mple.org")


def test_each_backend_checks_the_options_it_owns_and_the_settings_ask_it() -> None:
    from memento.servers.search.backends import BACKENDS, check_setting
    from memento.servers.search.backends.base import Backend

    class Gopher(Backend):
        name = "gopher"
        label = "Gopher"
        url_field = "gopher_url"

        @classmethod
        def check_option(cls, field: str, value: object) -> object:
            if field == cls.url_field and isinstance(value, str) and value.endswith(".invalid"):
                raise ValueError("names a test-only host")
            return super().check_option(field, value)

    assert BACKENDS["brave"].options() == {"brave_api_key", "brave_url"}
    assert check_setting("brave_url", "https://proxy.example/brave/") == "https://proxy.example/brave"
    assert check_setting("search_backends", [" Brave", "local", "brave"]) == ["brave", "local"]
    assert check_setting("search_timeout_s", 3.0) == 3.0  # not a backend's option: left alone
    with pytest.raises(ValueError, match="http:// or https://"):
        Gopher.check_option("gopher_url", "gopher://x")
    with pytest.raises(ValueError, match="test-only"):
        Gopher.check_option("gopher_url", "http://x.invalid")
    with pytest.raises(SettingsError, match="MEMENTO_EXA_URL='ftp://exa' is not valid"):
        SearchSettings.from_env({"MEMENTO_EXA_URL": "ftp://exa"})
