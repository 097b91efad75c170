"""The search service without MCP: validate a query, ask the backends, merge, and record what happened.

Each backend is asked through the same path: the cache, its rate limiter, the
request, retries with backoff on 429/5xx (honouring Retry-After up to a limit).
In `fallback` mode backends are asked in order until one has results; in `fuse`
mode all at once, their rankings merged by reciprocal rank. Every attempt is
recorded with its reason, so a result says which engine answered and why
others did not; only when every backend fails is it an error, listing each.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
import httpx

from memento.servers.common.errors import FetchFailed, InvalidInput, NotFound, TooLarge

from .backends import BACKENDS, Backend, BackendError
from .cache import TTLCache
from .fusion import fuse
from .index.store import IndexMatch, LocalIndex
from .model import TIME_RANGES, Attempt, BackendInfo, BackendsReport, Query, SearchResult
from .pacing import RateLimiter, backoff_delay
from .settings import SearchSettings

__all__ = ["LocalOutcome", "ManyOutcome", "Outcome", "SearchService", "backends_report"]

log = logging.getLogger("memento.search")

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?$")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")


@dataclass
class Outcome:
    """One query's results and the record of each backend asked."""

    query: Query
    hits: list[SearchResult]
    attempts: list[Attempt]


@dataclass
class ManyOutcome:
    """Several queries' results merged into one ranking, with each query's own outcome or error."""

    queries: list[str]
    hits: list[tuple[SearchResult, list[int]]]  # each hit with the indexes of the queries that found it
    outcomes: list[Outcome | None]
    errors: list[str | None] = field(default_factory=list)


@dataclass
class LocalOutcome:
    """The documents of the local index that match a query, best first."""

    query: str
    matches: list[IndexMatch]


@dataclass
class _Answer:
    hits: list[SearchResult] | None
    attempt: Attempt
    error: BackendError | None = None


class SearchService:
    """Web search over the chosen backends (with cache, pacing, retries, fallback or fusion) and the local index."""

    def __init__(
        self,
        settings: SearchSettings,
        http: httpx.AsyncClient | None,
        backends: list[Backend],
        local: LocalIndex | None = None,
        *,
        open_http: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.settings = settings
        self._http = http
        self._open_http = open_http  # http None: this opens the client on first use, and `aclose` closes it
        self.backends = backends
        self.local = local
        self.cache: TTLCache[list[SearchResult]] = TTLCache(settings.search_cache_ttl_s, settings.search_cache_entries)
        self.limiters = {
            b.name: RateLimiter(settings.rate_limit(b.name, b.default_rate), settings.rate_burst(b.name, b.default_rate)) for b in backends
        }
        self._resting: dict[str, tuple[float, BackendError]] = {}  # backend → (monotonic time it may be asked again, why)

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client; one opened here waits for the first search (its TLS set-up is tens of ms of a start)."""
        if self._http is None:
            if self._open_http is None:
                raise RuntimeError("this SearchService was given no HTTP client")
            self._http = self._open_http()
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP client if this service opened it (a client passed in belongs to the caller)."""
        if self._open_http is not None and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- input -------------------------------------------------------------------------------

    def make_query(
        self,
        text: str,
        max_results: int = 10,
        page: int = 1,
        time_range: str | None = None,
        site: str | None = None,
        language: str | None = None,
        label: str = "query",
    ) -> Query:
        """A checked query: white space collapsed, length, time range, site and language validated."""
        text = " ".join((text or "").split())
        limit = self.settings.search_max_query_chars
        if not text:
            raise InvalidInput(f'{label} is empty: pass the words to search for, e.g. "solar panel efficiency 2024".')
        if len(text) > limit:
            raise TooLarge(
                f"{label} is {len(text):,} characters; the limit is {limit:,} (MEMENTO_SEARCH_MAX_QUERY_CHARS). "
                "Search engines match key words, not documents: pass the few terms that matter (under ~30 words)."
            )
        if time_range is not None and time_range not in TIME_RANGES:
            raise InvalidInput(f"time_range must be one of {', '.join(TIME_RANGES)}, got {time_range!r}.")
        return Query(text, max_results, page, time_range, _site(site), _language(language))

    # -- one query -----------------------------------------------------------------------------

    async def search(self, query: Query) -> Outcome:
        """Ask the backends in order until one has results (`fallback`), or all at once, merged (`fuse`)."""
        if self.settings.search_mode == "fuse":
            answers: list[_Answer | None] = [None] * len(self.backends)

            async def ask(i: int, backend: Backend) -> None:
                answers[i] = await self._ask(backend, query)

            async with anyio.create_task_group() as group:
                for i, backend in enumerate(self.backends):
                    group.start_soon(ask, i, backend)
            done = [a for a in answers if a is not None]
        else:
            done = []
            for backend in self.backends:
                answer = await self._ask(backend, query)
                done.append(answer)
                if answer.hits:
                    break
        if all(a.error for a in done):
            raise FetchFailed(_all_failed(query.text, done))
        ranked = fuse([a.hits for a in done if a.hits])
        return Outcome(query, [f.hit for f in ranked][: query.max_results], [a.attempt for a in done])

    async def _ask(self, backend: Backend, query: Query) -> _Answer:
        started = time.perf_counter()
        key = (backend.name, query.key)
        cached = self.cache.get(key) if backend.cacheable else None
        if cached is not None:
            return _Answer(cached, Attempt(backend=backend.name, status="ok" if cached else "empty", results=len(cached), cached=True))
        resting = self._resting.get(backend.name)
        if resting and time.monotonic() < resting[0]:
            error = resting[1]
            attempt = Attempt(
                backend=backend.name,
                status="failed",
                tries=0,
                reason=f"skipped for {resting[0] - time.monotonic():.0f} s more after: {error.describe()}",
            )
            return _Answer(None, attempt, error)
        settings = self.settings
        tries = 0
        while True:
            tries += 1
            await self.limiters[backend.name].wait()
            try:
                # A hard stop above the HTTP timeout, for backends (ddgs) that run in a thread.
                with anyio.fail_after(settings.search_timeout_s + 5):
                    hits = await backend.search(query, self.http)
                break
            except TimeoutError:
                error = BackendError(backend.name, "timeout", f"no answer within {settings.search_timeout_s:g} s")
            except BackendError as exc:
                error = exc
            except Exception as exc:  # a bug or a vendor surprise in one backend must not stop the others
                log.exception("search backend %s failed unexpectedly", backend.name)
                error = BackendError(backend.name, "malformed", backend.scrub(f"failed unexpectedly ({type(exc).__name__}: {exc})"))
            if not error.retryable or tries > settings.search_retries:
                return self._failed(backend, error, tries, started)
            delay = error.retry_after if error.retry_after is not None else backoff_delay(settings.search_backoff_s, tries - 1)
            if delay > settings.search_max_wait_s:
                error.hint = f"It asked to wait {delay:g} s, longer than MEMENTO_SEARCH_MAX_WAIT_S ({settings.search_max_wait_s:g} s)."
                self._rest(backend, error, delay)
                return self._failed(backend, error, tries, started)
            log.info("%s: %s; retrying in %.2f s", backend.name, error.reason, delay)
            await anyio.sleep(delay)
        if backend.cacheable:
            self.cache.put(key, hits)
        attempt = Attempt(
            backend=backend.name,
            status="ok" if hits else "empty",
            results=len(hits),
            reason="" if hits else "no results for this query",
            tries=tries,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return _Answer(hits, attempt)

    def _rest(self, backend: Backend, error: BackendError, seconds: float) -> None:
        """Skip this backend for a while: asking again now would fail the same way and cost time or quota."""
        if seconds > 0:
            self._resting[backend.name] = (time.monotonic() + seconds, error)
            log.warning("%s is skipped for %.0f s: %s", backend.name, seconds, error.reason)

    def _failed(self, backend: Backend, error: BackendError, tries: int, started: float) -> _Answer:
        if error.lasting:
            self._rest(backend, error, self.settings.search_cooldown_s)
        suffix = f" (after {tries} tries)" if tries > 1 else ""
        attempt = Attempt(
            backend=backend.name,
            status="failed",
            reason=error.describe() + suffix,
            tries=tries,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return _Answer(None, attempt, error)

    # -- several queries -------------------------------------------------------------------------

    async def search_many(self, texts: list[str], max_results: int = 5) -> ManyOutcome:
        """Search several queries at once and merge their rankings; one failing query does not fail the others."""
        limit = self.settings.search_many_max_queries
        if not texts:
            raise InvalidInput("queries is empty: pass 2-5 phrasings of what you are looking for.")
        if len(texts) > limit:
            raise TooLarge(f"{len(texts)} queries; the limit is {limit} (MEMENTO_SEARCH_MANY_MAX_QUERIES).")
        queries: list[Query] = []
        for i, text in enumerate(texts):
            query = self.make_query(text, max_results, label=f"queries[{i}]")
            if all(q.key != query.key for q in queries):  # the same words twice cost one search
                queries.append(query)
        outcomes: list[Outcome | None] = [None] * len(queries)
        errors: list[str | None] = [None] * len(queries)

        async def run(i: int, query: Query) -> None:
            try:
                outcomes[i] = await self.search(query)
            except FetchFailed as exc:
                errors[i] = str(exc)

        async with anyio.create_task_group() as group:
            for i, query in enumerate(queries):
                group.start_soon(run, i, query)
        if all(o is None for o in outcomes):
            raise FetchFailed(f"All {len(queries)} queries failed. The first: {errors[0]}")
        ranked = fuse([o.hits if o else [] for o in outcomes])
        return ManyOutcome([q.text for q in queries], [(f.hit, f.lists) for f in ranked], outcomes, errors)

    # -- the local index -------------------------------------------------------------------------

    async def search_local(self, text: str, max_results: int) -> LocalOutcome:
        """The user's indexed documents matching `text`, one entry per document."""
        if self.local is None:
            raise NotFound("This server has no local index configured.")
        query = self.make_query(text, max_results).text
        return LocalOutcome(query, await anyio.to_thread.run_sync(self.local.search, query, max_results, 0))


def backends_report(settings: SearchSettings, names: list[str], local: LocalIndex) -> BackendsReport:
    """Every backend: active (in order) or not, configured or not, and its rate limit; and the local index's size."""
    backends = [
        BackendInfo(
            name=name,
            label=cls.label,
            active=name in names,
            configured=cls.configured(settings),
            needs=cls.requirement(),
            rate_per_s=settings.rate_limit(name, cls.default_rate),
            burst=settings.rate_burst(name, cls.default_rate),
        )
        for name, cls in BACKENDS.items()
    ]
    return BackendsReport(
        mode=settings.search_mode,
        active=names,
        backends=backends,
        local_index=str(local.directory),
        local_index_sections=local.count(),
    )


def _all_failed(text: str, answers: list[_Answer]) -> str:
    lines = [f"Every search backend failed for {text!r}:"]
    lines += [f"- {a.attempt.backend}: {a.attempt.reason}" for a in answers]
    lines.append(
        "Fix one of them (the setting to change is named above), or choose working backends with "
        "MEMENTO_SEARCH_BACKENDS; list_search_backends shows what is configured."
    )
    return "\n".join(lines)


def _site(site: str | None) -> str | None:
    if site is None or not site.strip():
        return None
    host = site.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/", 1)[0].split(":", 1)[0].removeprefix("site:")
    if not _HOST.match(host):
        raise InvalidInput(f"site must be a domain like example.org or docs.python.org, got {site!r}.")
    return host


def _language(language: str | None) -> str | None:
    if language is None or not language.strip():
        return None
    if not _LANGUAGE.match(language.strip()):
        raise InvalidInput(f"language must be a code like en, de or pt-BR, got {language!r}.")
    return language.strip()
