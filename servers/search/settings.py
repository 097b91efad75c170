"""Settings of the search server (`MEMENTO_SEARCH_*`, vendor keys and base URLs, the local index).

Keys are `SecretStr`, so they never show in a repr, a log line or `memento config`.
Base URLs are settings so an operator can point a backend at a proxy (and tests
at a fake vendor on 127.0.0.1); they are trusted, not passed through the URL guard.
The values are checked by the backends that own them (`backends.check_setting`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ByteSize, Field, SecretStr, ValidationInfo, field_validator

from memento.servers.common.settings import CommonSettings

__all__ = ["SearchSettings"]


def _key(vendor: str) -> SecretStr | None:
    return Field(default=None, description=f"{vendor} API key; setting it enables the backend.")


class SearchSettings(CommonSettings):
    search_backends: list[str] = Field(
        default_factory=list,
        json_schema_extra={"shown_default": "(automatic)"},
        description="Backends to use, in order, e.g. 'searxng,brave,duckduckgo' or 'local'. "
        "Default: every backend whose key or URL is set, then duckduckgo.",
    )
    search_mode: Literal["fallback", "fuse"] = Field(
        default="fallback",
        description="fallback: ask the backends in order until one answers. "
        "fuse: ask all at once and merge their rankings (reciprocal-rank fusion).",
    )
    searxng_url: str | None = Field(
        default=None,
        description="Base URL of a SearxNG instance; setting it enables the backend. "
        "The instance must allow JSON (search: formats: [html, json] in its settings.yml).",
    )
    brave_api_key: SecretStr | None = _key("Brave Search")
    brave_url: str = Field(default="https://api.search.brave.com/res/v1/web/search", description="Brave web search endpoint.")
    tavily_api_key: SecretStr | None = _key("Tavily")
    tavily_url: str = Field(default="https://api.tavily.com/search", description="Tavily search endpoint.")
    serper_api_key: SecretStr | None = _key("Serper (Google results)")
    serper_url: str = Field(default="https://google.serper.dev/search", description="Serper search endpoint.")
    serpapi_api_key: SecretStr | None = _key("SerpAPI")
    serpapi_url: str = Field(default="https://serpapi.com/search.json", description="SerpAPI search endpoint.")
    serpapi_engine: str = Field(default="google", description="SerpAPI engine, e.g. google, bing, duckduckgo.")
    exa_api_key: SecretStr | None = _key("Exa")
    exa_url: str = Field(default="https://api.exa.ai/search", description="Exa search endpoint.")
    ddgs_backend: str = Field(
        default="duckduckgo",
        description="Engines the ddgs package queries for the duckduckgo backend: duckduckgo, auto (spread over several engines), or a list.",
    )
    search_safesearch: Literal["off", "moderate", "strict"] = Field(
        default="moderate", description="Safe-search level passed to the engines that have one: off, moderate or strict."
    )
    search_timeout_s: float = Field(default=15.0, gt=0, description="Time limit of one request to a search backend, in seconds.")
    search_retries: int = Field(default=2, ge=0, le=5, description="Retries of a backend answering 429 or 5xx before falling back.")
    search_backoff_s: float = Field(
        default=0.5, ge=0, description="First wait between retries (doubles each time) when no Retry-After is given."
    )
    search_max_wait_s: float = Field(
        default=10.0, ge=0, description="Longest Retry-After honoured; a longer one falls back to the next backend at once."
    )
    search_rate_limits: list[str] = Field(
        default_factory=list,
        description="Requests per second per backend, e.g. 'brave=1,duckduckgo=0.5' ('*=0' lifts all). "
        "Defaults: brave 1, tavily 1.5, serpapi 1, duckduckgo 1, others 5.",
    )
    search_rate_bursts: list[str] = Field(
        default_factory=list,
        description="Requests per backend that may start at once before its rate spaces them (a token bucket), "
        "e.g. 'searxng=20' for a SearxNG you run. Default: the rate rounded down, at least 1 "
        "(brave, tavily, serpapi, duckduckgo 1; others 5).",
    )
    search_cooldown_s: float = Field(
        default=300.0,
        ge=0,
        description="How long a backend with a rejected key, an exhausted quota or a long Retry-After "
        "is skipped before it is asked again, in seconds.",
    )
    search_cache_ttl_s: float = Field(default=3600.0, ge=0, description="How long a backend's answer is reused, in seconds (0: no cache).")
    search_cache_entries: int = Field(default=1000, ge=1, description="Most answers kept in the cache.")
    search_max_query_chars: int = Field(default=1000, ge=10, description="Longest query accepted, in characters.")
    search_many_max_queries: int = Field(default=10, ge=1, le=50, description="Most queries in one search_many call.")
    search_index_dir: Path | None = Field(
        default=None,
        json_schema_extra={"shown_default": "$MEMENTO_HOME/search-index"},
        description="Folder of the local full-text index built by `memento index build`.",
    )
    search_local_semantic: bool = Field(
        default=False,
        description="Fuse embedding similarity (the memory package's all-MiniLM-L6-v2, on the CPU) into local search "
        "rankings; loads torch on the first query and adds 0.1-1 s per query on a CPU.",
    )
    search_index_max_bytes: ByteSize = Field(
        default=ByteSize(50 * 1024**2), description="Largest file or download the index builder converts; larger ones are skipped."
    )
    search_index_max_chars: int = Field(
        default=2_000_000,
        ge=1000,
        description="Characters indexed per document; the rest is not indexed (the build says which files were cut).",
    )
    search_index_workers: int = Field(default=2, ge=1, le=32, description="Conversion worker processes of the index builder.")
    search_index_timeout_s: float = Field(default=60.0, gt=0, description="Time limit of converting one file while indexing, in seconds.")
    search_index_memory_limit: ByteSize = Field(
        default=ByteSize(2 * 1024**3), description="Address-space limit of each conversion worker of the index builder."
    )

    @field_validator("*", mode="after")
    @classmethod
    def _checked_by_backends(cls, value: Any, info: ValidationInfo) -> Any:
        """The backends own their options: the registry checks the list of names, each backend its key and endpoint."""
        from .backends import check_setting  # one way: the backends never import these settings

        return check_setting(info.field_name or "", value)

    @field_validator("search_rate_limits", mode="after")
    @classmethod
    def _rates(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            name, _, rate = entry.partition("=")
            try:
                ok = bool(name.strip()) and float(rate) >= 0
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"{entry!r} is not NAME=REQUESTS_PER_SECOND, e.g. brave=1")
        return entries

    @field_validator("search_rate_bursts", mode="after")
    @classmethod
    def _bursts(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            name, _, burst = entry.partition("=")
            if not (name.strip() and burst.strip().isdigit() and int(burst) >= 1):
                raise ValueError(f"{entry!r} is not NAME=REQUESTS (a whole number, at least 1), e.g. searxng=20")
        return entries

    @property
    def index_dir(self) -> Path:
        return (self.search_index_dir or self.home / "search-index").expanduser()

    def rate_limit(self, backend: str, default: float) -> float:
        """Requests per second allowed to `backend` (0: unlimited)."""
        rates = {e.split("=", 1)[0].strip().lower(): float(e.split("=", 1)[1]) for e in self.search_rate_limits}
        return rates.get(backend, rates.get("*", default))

    def rate_burst(self, backend: str, default_rate: float) -> int:
        """Requests `backend` may receive at once before its rate spaces them."""
        bursts = {e.split("=", 1)[0].strip().lower(): int(e.split("=", 1)[1]) for e in self.search_rate_bursts}
        return bursts.get(backend, bursts.get("*", max(1, int(self.rate_limit(backend, default_rate)))))
