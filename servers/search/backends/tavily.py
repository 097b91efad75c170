"""Tavily search (`POST /search`, key as `Authorization: Bearer tvly-…`).

Documented body: query (≤ 400 characters), max_results (0-20), topic,
search_depth, time_range (day|week|month|year), include_domains. The answer's
`results` hold title, url, content, score and, for news, published_date. There
is no page parameter. Errors are `{"detail": {"error": "…"}}`: 401 bad key, 429
rate limit, 432/433 plan or pay-as-you-go limit reached.
"""

from __future__ import annotations

import httpx

from ..model import Query, SearchResult
from .base import Backend, BackendError

_CAP = 20


class TavilyBackend(Backend):
    name = "tavily"
    label = "Tavily"
    key_field = needs = "tavily_api_key"
    url_field = "tavily_url"
    default_rate = 1.5  # development keys: 100 requests a minute
    pages = False

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        count, start = query.window(_CAP)
        if start >= _CAP:
            raise BackendError(self.name, "rejected", f"Tavily returns at most {_CAP} results, so page {query.page} is empty")
        payload = {
            "query": query.text,
            "max_results": count,
            "topic": "general",
            "search_depth": "basic",
            **({"time_range": query.time_range} if query.time_range else {}),
            **({"include_domains": [query.site]} if query.site else {}),
        }
        headers = {"Authorization": f"Bearer {self.key}"}
        body = await self.request_json(http, "POST", self.endpoint, json=payload, headers=headers)
        hits = [
            h
            for item in self.results(body, "results")
            if isinstance(item, dict)
            if (h := self.hit(item.get("title"), item.get("url"), item.get("content"), item.get("published_date")))
        ]
        return hits[start : start + query.max_results]
