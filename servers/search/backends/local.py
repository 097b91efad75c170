"""The local index as a backend: `MEMENTO_SEARCH_BACKENDS=local` makes web_search work offline.

Hits carry the file path (or the indexed URL) as their address, so a model can
open them with the documents server. Never chosen automatically, never cached
(the index changes under it and answers in milliseconds), never rate limited.
"""

from __future__ import annotations

import anyio.to_thread
import httpx

from memento.servers.common.errors import NotFound

from ..index.store import LocalIndex
from ..model import Query, SearchResult
from .base import Backend, BackendError, BackendSettings


class LocalBackend(Backend):
    name = "local"
    label = "local index"
    automatic = False
    cacheable = False
    default_rate = 0.0

    def __init__(self, settings: BackendSettings, index: LocalIndex | None = None, **resources: object) -> None:
        super().__init__(settings)
        self.index = index or LocalIndex(settings.index_dir)

    @classmethod
    def configured(cls, settings: BackendSettings) -> bool:
        return (settings.index_dir / "meta.json").is_file()

    @classmethod
    def off_reason(cls) -> str:
        return "no index yet: run `memento index build FOLDER`"

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        offset = (query.page - 1) * query.max_results
        try:
            found = await anyio.to_thread.run_sync(self.index.search, query.text, query.max_results, offset)
        except NotFound as exc:
            raise BackendError(self.name, "not_configured", "no local index", str(exc)) from exc
        return [
            SearchResult(
                title=h.title if h.location == "text" else f"{h.title} ({h.location})",
                url=h.source,
                snippet=h.snippet,
                published=h.modified,
                engines=[self.name],
            )
            for h in found
        ]
