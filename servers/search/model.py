"""What a search asks and what it finds: the query, a hit, and the record of each backend tried.

These are the shapes every backend produces and every tool returns, so the model
sees one format whichever engine answered. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "Attempt",
    "BackendInfo",
    "BackendsReport",
    "SearchResult",
    "LocalResult",
    "LocalSearchResult",
    "MergedResult",
    "Query",
    "QueryReport",
    "SearchManyResult",
    "TIME_RANGES",
    "TimeRange",
    "WebSearchResult",
]

TimeRange = Literal["day", "week", "month", "year"]
TIME_RANGES: tuple[str, ...] = ("day", "week", "month", "year")


@dataclass(frozen=True)
class Query:
    text: str
    max_results: int = 10
    page: int = 1
    time_range: str | None = None
    site: str | None = None
    language: str | None = None

    @property
    def key(self) -> tuple:
        return (" ".join(self.text.lower().split()), self.max_results, self.page, self.time_range, self.site, self.language)

    def with_site(self) -> str:
        """The query text with a `site:` operator, for engines that filter sites in the query itself."""
        return f"{self.text} site:{self.site}" if self.site else self.text

    def window(self, cap: int) -> tuple[int, int]:
        """For engines without pages: (how many to ask for, where this page starts in the answer)."""
        start = (self.page - 1) * self.max_results
        return min(start + self.max_results, cap), start


class SearchResult(BaseModel):
    """One result of a search, whichever engine (or the local index) found it."""

    title: str
    url: str = Field(description="The page's address (or a local file path for the local index).")
    snippet: str = ""
    published: str | None = Field(default=None, description="Publication date when the engine knows it.")
    engines: list[str] = Field(default_factory=list, description="The backends that found this result.")
    score: float = Field(default=0.0, description="Reciprocal-rank fusion score; higher ranks first.")


class Attempt(BaseModel):
    backend: str
    status: Literal["ok", "empty", "failed"]
    results: int = 0
    reason: str = Field(default="", description="Why it failed or was empty, and what to do about it.")
    cached: bool = False
    tries: int = 1
    elapsed_ms: float = 0.0


# -- what the tools return as structured content --------------------------------------------


class WebSearchResult(BaseModel):
    query: str
    page: int
    results: list[SearchResult]
    attempts: list[Attempt] = Field(description="Each backend asked, in order: ok, empty, or failed with the reason.")


class MergedResult(SearchResult):
    """A result of search_many: one search result, with the queries that found it."""

    found_by: list[str] = Field(description="The queries that found this result.")


class QueryReport(BaseModel):
    query: str
    results: int = 0
    attempts: list[Attempt] = Field(default_factory=list)
    error: str | None = None


class SearchManyResult(BaseModel):
    queries: list[str]
    results: list[MergedResult] = Field(description="Merged across queries by reciprocal rank, duplicates removed.")
    per_query: list[QueryReport]


class LocalResult(BaseModel):
    title: str
    source: str = Field(description="File path or URL; read it with the documents server's read_document.")
    location: str = Field(description="Best matching part: 'page 3', 'slide 2', 'sheet 1 (Sales)' or 'text'.")
    snippet: str
    score: float
    format: str = ""
    modified: str | None = None
    also: list[str] = Field(default_factory=list, description="Other matching parts of the same document.")


class LocalSearchResult(BaseModel):
    query: str
    results: list[LocalResult]


class BackendInfo(BaseModel):
    name: str
    label: str
    active: bool = Field(description="Used by web_search and search_many now, in the order listed under `active`.")
    configured: bool
    needs: str = Field(description="The variable that enables it ('' when nothing is needed).")
    rate_per_s: float = Field(description="Requests per second allowed (0: unlimited).")
    burst: int = Field(default=1, description="Requests that may start at once before the rate spaces them.")


class BackendsReport(BaseModel):
    mode: str
    active: list[str]
    backends: list[BackendInfo]
    local_index: str
    local_index_sections: int
