"""DuckDuckGo without a key, through the `ddgs` package (`DDGS().text(...)`).

ddgs scrapes result pages, so it is the backend of last resort: no key, no
quota, but rate limited by the sites and subject to their markup changing.
Each result is a dict with title, href and body. ddgs raises
RatelimitException, TimeoutException, or DDGSException("No results found.")
when there is nothing. The client is made by `make_client`, which tests replace
with a stub: tests never reach DuckDuckGo.
"""

from __future__ import annotations

import math
from typing import Any

import anyio.to_thread
import httpx

from ..model import Query, SearchResult
from .base import Backend, BackendError

_TIMELIMIT = {"day": "d", "week": "w", "month": "m", "year": "y"}
_SAFESEARCH = {"off": "off", "moderate": "moderate", "strict": "on"}


def make_client(timeout_s: float) -> Any:
    from ddgs import DDGS  # lazy: ddgs pulls in its HTTP stack

    return DDGS(timeout=max(1, math.ceil(timeout_s)))


def region_for(language: str | None) -> str:
    """ddgs wants COUNTRY-LANG ('us-en', 'de-de', 'br-pt'); a model passes 'en', 'de' or 'pt-BR'."""
    if not language:
        return "us-en"
    lang, _, country = language.replace("_", "-").lower().partition("-")
    if country:
        return f"{country}-{lang}"
    return "us-en" if lang == "en" else f"{lang}-{lang}"


class DuckDuckGoBackend(Backend):
    name = "duckduckgo"
    label = "DuckDuckGo (ddgs)"
    default_rate = 1.0  # scraping: be gentle, or the site blocks the address for a while

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        try:
            rows = await anyio.to_thread.run_sync(self._text, query, abandon_on_cancel=True)
        except ImportError as exc:
            raise BackendError(self.name, "not_configured", "the ddgs package is not installed", "pip install ddgs") from exc
        hits = [
            h
            for row in rows
            if isinstance(row, dict)
            if (h := self.hit(row.get("title"), row.get("href") or row.get("url"), row.get("body")))
        ]
        return hits[: query.max_results]

    def _text(self, query: Query) -> list[Any]:
        from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

        client = make_client(self.settings.search_timeout_s)
        try:
            rows = client.text(
                query.with_site(),
                region=region_for(query.language),
                safesearch=_SAFESEARCH[self.settings.search_safesearch],
                timelimit=_TIMELIMIT.get(query.time_range or ""),
                max_results=query.max_results,
                page=query.page,
                backend=self.settings.ddgs_backend,
            )
        except RatelimitException as exc:
            raise BackendError(self.name, "rate_limited", f"rate limited by the search site ({exc})") from exc
        except TimeoutException as exc:
            raise BackendError(
                self.name,
                "timeout",
                f"no answer within {self.settings.search_timeout_s:g} s ({exc})",
                "MEMENTO_SEARCH_TIMEOUT_S sets the limit.",
            ) from exc
        except DDGSException as exc:
            if "no results" in str(exc).lower():
                return []
            raise BackendError(self.name, "unavailable", f"ddgs failed: {str(exc)[:200]}") from exc
        if not isinstance(rows, list):
            raise self.malformed(f"ddgs returned a {type(rows).__name__}")
        return rows
