"""SearxNG, the self-hosted metasearch engine, through its JSON API (`GET /search?format=json`).

Documented parameters: q, pageno, time_range (day|week|month|year), language,
safesearch (0|1|2), format. The answer holds `results` (url, title, content,
publishedDate, engines) and `unresponsive_engines` ([name, reason] pairs). An
instance answers 403 when the JSON format is not enabled in its settings.yml.
"""

from __future__ import annotations

import httpx

from ..model import Query, SearchResult
from .base import Backend, BackendError

_SAFESEARCH = {"off": 0, "moderate": 1, "strict": 2}


class SearxngBackend(Backend):
    name = "searxng"
    label = "SearxNG"
    url_field = needs = "searxng_url"
    default_rate = 5.0

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        params = {
            "q": query.with_site(),
            "format": "json",
            "pageno": query.page,
            "time_range": query.time_range,
            "language": query.language,
            "safesearch": _SAFESEARCH[self.settings.search_safesearch],
        }
        body = await self.request_json(http, "GET", f"{self.endpoint}/search", params=params)
        hits = [
            h
            for item in self.results(body, "results")
            if isinstance(item, dict)
            if (h := self.hit(item.get("title"), item.get("url"), item.get("content"), item.get("publishedDate")))
        ]
        if not hits and body.get("unresponsive_engines"):
            failing = ", ".join(_describe(e) for e in body["unresponsive_engines"][:8])
            raise BackendError(
                self.name,
                "rejected",
                f"no results because its engines failed ({failing})",
                "Check the engines in the SearxNG preferences, or try again later.",
            )
        return hits[: query.max_results]

    def status_error(self, response: httpx.Response) -> BackendError:
        if response.status_code == 403:
            return BackendError(
                self.name,
                "rejected",
                f"the instance at {self.endpoint} refused format=json (HTTP 403): its JSON API is disabled",
                "Enable it in the instance's settings.yml with `search: formats: [html, json]` and restart "
                "SearxNG, or point MEMENTO_SEARXNG_URL at an instance that allows JSON.",
            )
        if response.status_code == 429:
            error = super().status_error(response)
            error.hint = "SearxNG's bot limiter may be on; allow this client in its limiter.toml (pass_ip)."
            return error
        return super().status_error(response)


def _describe(entry: object) -> str:
    if isinstance(entry, (list, tuple)) and entry:
        return f"{entry[0]}: {entry[1]}" if len(entry) > 1 else str(entry[0])
    return str(entry)
