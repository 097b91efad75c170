"""The search MCP server: web search over many engines with fallback, several queries at once, a local index.

Registers the tools only: `service.py` does the work, `present.py` phrases the
replies. `python -m memento.servers.search` (and `memento-search`) start it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from memento.servers.common.runner import serve
from memento.servers.common.tooling import READ_ONLY_CLOSED_WORLD, READ_ONLY_OPEN_WORLD, Probe, lifespan_state, server_with_lifespan, tool

from . import present
from .backends import backend_names, build_backends
from .index.semantic import EmbeddingRanker
from .index.store import LocalIndex
from .model import BackendsReport, LocalSearchResult, SearchManyResult, TimeRange, WebSearchResult
from .service import SearchService, backends_report
from .settings import SearchSettings

INSTRUCTIONS = """\
Searches the web through the configured engines (SearxNG, Brave, Tavily, Serper, SerpAPI, Exa, DuckDuckGo),
falling back to the next engine when one fails, and says which engine answered. search_many runs several
phrasings of one question at once and merges them; search_local searches the user's own indexed documents
offline. Results are titles, URLs and snippets: open the pages with a browsing or documents tool to read them."""


def _service(ctx: Context) -> SearchService:
    return lifespan_state(ctx, SearchService)


def build(settings: SearchSettings) -> MCPServer:
    names = backend_names(settings)  # a named backend without its key stops the server here, naming the variable
    local = LocalIndex(settings.index_dir, semantic=EmbeddingRanker() if settings.search_local_semantic else None)

    @asynccontextmanager
    async def running() -> AsyncIterator[SearchService]:
        def open_http() -> httpx.AsyncClient:
            # No redirects: a vendor's auth header must never follow one to another host.
            return httpx.AsyncClient(headers={"User-Agent": settings.user_agent}, follow_redirects=False, trust_env=False)

        service = SearchService(settings, None, build_backends(names, settings, index=local), local, open_http=open_http)
        try:
            yield service
        finally:
            await service.aclose()

    server = server_with_lifespan("memento-search", INSTRUCTIONS, running)

    @tool(server, READ_ONLY_OPEN_WORLD)
    async def web_search(
        query: Annotated[str, Field(description="What to search for: key words or a short question.")],
        ctx: Context,
        max_results: Annotated[int, Field(ge=1, le=50, description="Results per page.")] = 10,
        page: Annotated[int, Field(ge=1, le=10, description="Page of results, 1-based.")] = 1,
        time_range: Annotated[TimeRange | None, Field(description="Only pages from the past day, week, month or year.")] = None,
        site: Annotated[str | None, Field(description="Only results from this domain, e.g. 'nature.com'.")] = None,
        language: Annotated[str | None, Field(description="Language of the results, e.g. 'en', 'de', 'pt-BR'.")] = None,
    ) -> Annotated[CallToolResult, WebSearchResult]:
        """Search the web; returns ranked results with title, URL, snippet, date when known, and the engine that found each.

        The configured engines are tried in order (or all at once, merged, in fuse mode); when one fails (rate
        limit, quota, bad key, timeout) the next answers and the reply notes why. Use few, specific words; use
        site= to stay on one domain and time_range= for recent events. For several phrasings of one question,
        search_many is faster than repeated calls. When the reply ends with "More: ... page=2", call again with
        that page. Results are snippets: open a URL with a browsing or documents tool to read the page.

        Example: web_search(query="CRISPR off-target effects review", time_range="year", max_results=5)
        """
        service = _service(ctx)
        return present.web(await service.search(service.make_query(query, max_results, page, time_range, site, language)))

    @tool(server, READ_ONLY_OPEN_WORLD)
    async def search_many(
        queries: Annotated[list[str], Field(description="2-5 phrasings or sub-questions to search at once.")],
        ctx: Context,
        max_results: Annotated[int, Field(ge=1, le=20, description="Results per query before merging.")] = 5,
    ) -> Annotated[CallToolResult, SearchManyResult]:
        """Search several queries in parallel and merge the results into one deduplicated ranking.

        Takes about as long as one search. A result found by several queries ranks higher and says which
        queries found it (q1, q2…). One failing query does not fail the others; its reason is noted.

        Example: search_many(queries=["lithium price 2024", "lithium carbonate spot price trend", "lithium oversupply"])
        """
        return present.many(await _service(ctx).search_many(queries, max_results))

    if local.exists() or "local" in names:

        @tool(server, READ_ONLY_CLOSED_WORLD)
        async def search_local(
            query: Annotated[str, Field(description="Words to find in the user's indexed documents.")],
            ctx: Context,
            max_results: Annotated[int, Field(ge=1, le=50, description="Documents to return.")] = 10,
        ) -> Annotated[CallToolResult, LocalSearchResult]:
            """Search the user's own documents (PDF, Word, slides, sheets, HTML, text…) in the local full-text index, offline.

            Each result is a file (or indexed web page) with its best matching page, slide or section and a
            snippet; other matching parts are listed. Ranking is BM25 with English stemming; quotes search
            for a phrase. Open a result with the documents server: read_document(source=PATH, pages="N").
            The index is built by the user with `memento index build FOLDER`.

            Example: search_local(query="quarterly revenue forecast", max_results=5)
            """
            return present.local(await _service(ctx).search_local(query, max_results))

    @tool(server, READ_ONLY_CLOSED_WORLD, Probe({}, "duckduckgo"))
    def list_search_backends() -> Annotated[CallToolResult, BackendsReport]:
        """List the search backends: which are active (in order), which are configured, and what enables the others.

        Cheap and offline; use it when results come from an unexpected engine or every engine fails.
        """
        return present.backends(backends_report(settings, names, local))

    return server


def main(argv: Sequence[str] | None = None) -> int:
    return serve("search", SearchSettings, build, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
