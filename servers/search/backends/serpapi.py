"""SerpAPI (`GET /search.json?engine=google`, key in the `api_key` parameter).

Documented parameters: engine, q, num, start (offset), tbs (qdr:d|w|m|y), hl,
safe (active|off). Organic results are in `organic_results` (title, link,
snippet, date). Every error is `{"error": "…"}`: 401 invalid key, 429 hourly
limit or "run out of searches"; a search without results is a 200 whose
`error` says Google returned nothing. The key travels in the URL, so it is
scrubbed from every message.
"""

from __future__ import annotations

import httpx

from ..model import Query, SearchResult
from .base import Backend, BackendError

_TBS = {"day": "qdr:d", "week": "qdr:w", "month": "qdr:m", "year": "qdr:y"}


class SerpapiBackend(Backend):
    name = "serpapi"
    label = "SerpAPI"
    key_field = needs = "serpapi_api_key"
    url_field = "serpapi_url"
    default_rate = 1.0

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        params = {
            "engine": self.settings.serpapi_engine,
            "q": query.with_site(),
            "api_key": self.key,
            "num": query.max_results,
            "start": (query.page - 1) * query.max_results or None,
            "tbs": _TBS.get(query.time_range or ""),
            "hl": query.language,
            "safe": "off" if self.settings.search_safesearch == "off" else "active",
        }
        body = await self.request_json(http, "GET", self.endpoint, params=params)
        items = self.results(body, "organic_results")
        error = body.get("error")
        if not items and isinstance(error, str) and error:
            if "hasn't returned any results" in error or "no results" in error.lower():
                return []
            raise BackendError(self.name, "rejected", f"answered with an error: {self.scrub(error)[:200]}")
        hits = [
            h
            for item in items
            if isinstance(item, dict)
            if (h := self.hit(item.get("title"), item.get("link"), item.get("snippet"), item.get("date")))
        ]
        return hits[: query.max_results]
