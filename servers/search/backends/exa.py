"""Exa (`POST /search`, key in the `x-api-key` header).

Documented body: query, numResults (≤ 100), type (auto|fast|…), includeDomains,
startPublishedDate (ISO 8601), contents.highlights. Results hold title, url,
publishedDate, author, score and, when asked, highlights/text/summary. There is
no page parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from ..model import Query, SearchResult
from .base import Backend, BackendError

_CAP = 100
_SPANS = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=31), "year": timedelta(days=366)}


class ExaBackend(Backend):
    name = "exa"
    label = "Exa"
    key_field = needs = "exa_api_key"
    url_field = "exa_url"
    default_rate = 5.0
    pages = False

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        count, start = query.window(_CAP)
        if start >= _CAP:
            raise BackendError(self.name, "rejected", f"Exa returns at most {_CAP} results, so page {query.page} is empty")
        payload: dict = {
            "query": query.text,
            "numResults": count,
            "type": "auto",
            "contents": {"highlights": {"maxCharacters": 400}},
        }
        if query.site:
            payload["includeDomains"] = [query.site]
        if query.time_range:
            since = datetime.now(UTC) - _SPANS[query.time_range]
            payload["startPublishedDate"] = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        headers = {"x-api-key": self.key, "Content-Type": "application/json"}
        body = await self.request_json(http, "POST", self.endpoint, json=payload, headers=headers)
        hits = []
        for item in self.results(body, "results"):
            if isinstance(item, dict):
                hit = self.hit(item.get("title"), item.get("url"), _snippet(item), item.get("publishedDate"))
                if hit:
                    hits.append(hit)
        return hits[start : start + query.max_results]


def _snippet(item: dict) -> str:
    highlights = item.get("highlights")
    if isinstance(highlights, list) and highlights:
        return " … ".join(h for h in highlights if isinstance(h, str))
    for key in ("summary", "text"):
        if isinstance(item.get(key), str):
            return item[key][:600]
    return ""
