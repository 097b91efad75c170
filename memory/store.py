"""The Chroma side of the case bank: open the store, hold the two collections, serialise writers.

Embedded mode keeps a persistent Chroma under MEMENTO_HOME/casebank; several
processes may open it at once, and their writes take an exclusive file lock
so read-modify-write of a case's statistics cannot interleave. With
MEMENTO_CHROMA_URL the collections live on a Chroma server instead. Collections
never get an embedding function: vectors always come from our embedder, so
Chroma can never fall back to downloading its default model.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import StoreError

_UNSETTLED = "Nothing found on disk"  # a Chroma server's answer while a segment another client wrote is being flushed
_SETTLE_TRIES = 5

__all__ = ["Store"]

log = logging.getLogger("memento.memory")

CASES = "memento_cases"
TRANSITIONS = "memento_transitions"
PLANS = "memento_plans"  # one row per case: the embedding of its plan's text (credit and Q read it)
POLICY = "memento_policy"  # on a Chroma server only: the Q-policy's versions (see versions.py)


class Store:
    """The Chroma collections of a case bank (cases, transitions; on a server, the policy too), embedded or on a server.

    Chroma types every result field as optional (absent unless asked for in `include`), so the
    collections are held as `Any`: callers read exactly the fields they asked for.
    """

    cases: Any
    transitions: Any
    plans: Any
    policy: Any  # None for an embedded store, whose policy lives in a folder
    client: Any

    def __init__(self, path: Path | None = None, url: str = "", embedder_name: str = "", dimension: int = 0) -> None:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)  # telemetry off through the API, not the environment
        self.path = path
        self.url = url
        try:
            if url:
                parts = urlsplit(url)
                self.client = chromadb.HttpClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=settings,
                )
                self._lock_path = None
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self._lock_path = path / ".write.lock"
            with self.writing():  # two processes creating a new store at once would race on its schema
                if not url:
                    self.client = chromadb.PersistentClient(path=str(path), settings=settings)
                meta = {"hnsw:space": "cosine", "embedder": embedder_name or "unknown", "dimension": dimension}
                self.cases = self.client.get_or_create_collection(CASES, embedding_function=None, metadata=meta)
                self.transitions = self.client.get_or_create_collection(TRANSITIONS, embedding_function=None, metadata=meta)
                self.plans = self.client.get_or_create_collection(PLANS, embedding_function=None, metadata=meta)
                if url:  # a server's index can be briefly unreadable while another client's writes are flushed
                    self.cases, self.transitions = _SettlingReads(self.cases), _SettlingReads(self.transitions)
                    self.plans = _SettlingReads(self.plans)
                self.policy = self.client.get_or_create_collection(POLICY, embedding_function=None) if url else None
        except Exception as exc:
            where = url or str(path)
            raise StoreError(f"Could not open the case bank at {where}: {exc}") from exc
        stored = (self.cases.metadata or {}).get("embedder")
        if embedder_name and stored and stored not in ("unknown", embedder_name):
            raise StoreError(
                f"This case bank was built with the embedding model {stored!r}, not {embedder_name!r}; "
                "vectors of different models cannot be compared. Use the same MEMENTO_EMBEDDING_MODEL, "
                "or export the bank and import it into a new MEMENTO_HOME."
            )

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive across processes for an embedded store; a Chroma server serialises on its own."""
        if self._lock_path is None:
            yield
            return
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the client's connections (a server's HTTP pool, an embedded store's handles)."""
        try:
            # Chroma's HTTP client keeps its connection pool open after close(); shut it ourselves, first,
            # while the client still holds it (its admin client shares the same pool).
            for owner in (self.client, getattr(self.client, "_admin_client", None)):
                session = getattr(getattr(owner, "_server", None), "_session", None)
                if session is not None:
                    session.close()
            self.client.close()
        except Exception as exc:  # closing twice or after a failed open is harmless
            log.debug("closing the case bank client: %s", exc)

    @property
    def where(self) -> str:
        return self.url or str(self.path)


class _SettlingReads:
    """A server collection whose `query` tries again, briefly, when the server's index is not yet on disk.

    Under concurrent writers a Chroma server sometimes answers a query with an internal error saying the
    HNSW segment has "nothing found on disk" while it flushes another client's writes; a moment later the
    same query succeeds. Everything else passes straight through.
    """

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    def query(self, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(_SETTLE_TRIES):
            try:
                return self._collection.query(*args, **kwargs)
            except Exception as exc:
                if _UNSETTLED not in str(exc) or attempt == _SETTLE_TRIES - 1:
                    raise
                log.debug("the case bank's index was settling; query again (%s)", exc)
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)
