"""Serper, Google results as JSON (`POST /search`, key in the `X-API-KEY` header).

Documented body: q (`site:` works in it), num, page, tbs (qdr:d|w|m|y), hl.
Organic results are in `organic` (title, link, snippet, date, position). Errors
are `{"message": "…", "statusCode": N}`; running out of credits answers 400
"Not enough credits".
"""

from __future__ import annotations

import httpx

from ..model import Query, SearchResult
from .base import Backend

_TBS = {"day": "qdr:d", "week": "qdr:w", "month": "qdr:m", "year": "qdr:y"}


class SerperBackend(Backend):
    name = "serper"
    label = "Serper"
    key_field = needs = "serper_api_key"
    url_field = "serper_url"
    default_rate = 5.0

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        payload = {
            "q": query.with_site(),
            "num": min(query.max_results, 100),
            "page": query.page,
            **({"tbs": _TBS[query.time_range]} if query.time_range else {}),
            **({"hl": query.language} if query.language else {}),
        }
        headers = {"X-API-KEY": self.key, "Content-Type": "application/json"}
        body = await self.request_json(http, "POST", self.endpoint, json=payload, headers=headers)
        hits = [
            h
            for item in self.results(body, "organic")
            if isinstance(item, dict)
            if (h := self.hit(item.get("title"), item.get("link"), item.get("snippet"), item.get("date")))
        ]
        return hits[: query.max_results]
