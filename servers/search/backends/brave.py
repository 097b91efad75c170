"""Brave Search API, web results (`GET /res/v1/web/search`, key in the `X-Subscription-Token` header).

Documented parameters: q (≤ 400 characters, 50 words; `site:` works in it),
count (≤ 20), offset (pages of `count`, 0-9), freshness (pd|pw|pm|py),
search_lang, safesearch (off|moderate|strict). Results are in `web.results`
(title, url, description, page_age, age); the `web` key is absent when there
are none. Errors are `{"type": "ErrorResponse", "error": {"code", "detail"}}`;
an invalid key may come back as 422 SUBSCRIPTION_TOKEN_INVALID.
"""

from __future__ import annotations

import httpx

from ..model import Query, SearchResult
from .base import Backend, BackendError

_FRESHNESS = {"day": "pd", "week": "pw", "month": "pm", "year": "py"}
_MAX_OFFSET = 9


class BraveBackend(Backend):
    name = "brave"
    label = "Brave Search API"
    key_field = needs = "brave_api_key"
    url_field = "brave_url"
    default_rate = 1.0  # the free plan allows one request per second

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        if query.page - 1 > _MAX_OFFSET:
            raise BackendError(self.name, "rejected", f"pages past {_MAX_OFFSET + 1} are not available from Brave")
        params = {
            "q": query.with_site(),
            "count": min(query.max_results, 20),
            "offset": query.page - 1,
            "freshness": _FRESHNESS.get(query.time_range or ""),
            "search_lang": query.language,
            "safesearch": self.settings.search_safesearch,
        }
        headers = {"Accept": "application/json", "X-Subscription-Token": self.key}
        body = await self.request_json(http, "GET", self.endpoint, params=params, headers=headers)
        hits = [
            h
            for item in self.results(body, "web", "results")
            if isinstance(item, dict)
            if (h := self.hit(item.get("title"), item.get("url"), item.get("description"), item.get("page_age") or item.get("age")))
        ]
        return hits[: query.max_results]
