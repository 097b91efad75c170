"""The Chroma side of the case bank: open the store, hold the collections, serialise writers.

Embedded mode keeps a persistent Chroma under MEMENTO_HOME/casebank; several
processes may open it at once, and their writes take an exclusive file lock
so read-modify-write of a case's statistics cannot interleave. Beside it a read
snapshot (snapshot.py) answers reads without importing Chroma; the store keeps
it in step with every write and never lets a stale one be read. With
MEMENTO_CHROMA_URL the collections live on a Chroma server instead. Collections
never get an embedding function: vectors always come from our embedder, so
Chroma can never fall back to downloading its default model.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import StoreError
from .journal import Journal
from .snapshot import CURRENT, WRITING, Snapshot, View

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

    An embedded store opens Chroma on first use, not at construction, when its snapshot (snapshot.py)
    exists: a read answered by a current snapshot never imports Chroma. Every write to the cases and
    plans goes through a `_Recorded` collection that keeps the snapshot in step (see `writing`).
    """

    def __init__(self, path: Path | None = None, url: str = "", embedder_name: str = "", dimension: int = 0) -> None:
        self.path = path
        self.url = url
        self.embedder_name = embedder_name
        self.dimension = dimension
        self._opened: dict[str, Any] | None = None
        self._open_lock = threading.RLock()  # re-entered when the opening write block commits
        self._local = threading.local()  # this thread's write block: its depth and its snapshot journal
        self.snapshot: Snapshot | None = None
        if url:
            self._lock_path: Path | None = None
        else:
            assert path is not None
            self._lock_path = path / ".write.lock"
            self.snapshot = Snapshot(path / "snapshot")
        self.cases: Any = _Recorded(self, "cases")
        self.plans: Any = _Recorded(self, "plans")
        self.transitions: Any = _Recorded(self, "transitions")
        built_with = self.snapshot.embedder() if self.snapshot is not None else None
        if built_with is None and self.snapshot is not None and self._start_empty():
            built_with = self.snapshot.embedder()
        if built_with is None:  # a server, or a bank from before snapshots: open now (and build one)
            self._open()
        else:
            self._check_embedder(built_with)

    def _start_empty(self) -> bool:
        """A bank with no Chroma files yet starts with an empty current snapshot, so a first read needs no Chroma."""
        assert self.snapshot is not None and self.path is not None
        with self.writing():  # under the lock: no writer can create the store between the look and the snapshot
            ours = {self._lock_path.name if self._lock_path else "", self.snapshot.folder.name}
            if any(entry.name not in ours for entry in self.path.iterdir()) or self.snapshot.state() is not None:
                return False  # Chroma has files here: what they hold is for a rebuild to read
            self.snapshot.start_empty(self.embedder_name or "unknown", self.dimension)
            return True

    def _check_embedder(self, stored: str | None) -> None:
        if self.embedder_name and stored and stored not in ("unknown", self.embedder_name):
            raise StoreError(
                f"This case bank was built with the embedding model {stored!r}, not {self.embedder_name!r}; "
                "vectors of different models cannot be compared. Use the same MEMENTO_EMBEDDING_MODEL, "
                "or export the bank and import it into a new MEMENTO_HOME."
            )

    def _open(self) -> dict[str, Any]:
        """The Chroma client and collections, opened once (this is where chromadb is imported)."""
        if self._opened is not None:
            return self._opened
        import chromadb  # noqa: F401  (imported before any lock is taken: seconds on a busy machine, nobody need wait)

        # The write lock before the open lock, the order every writer takes them in: a thread opening Chroma ahead of a
        # write (Store.open) and a writer reaching Chroma for the first time must not each hold what the other waits for.
        with self.writing(), self._open_lock:
            if self._opened is None:
                self._opened = self._connect()
        return self._opened

    def _connect(self) -> dict[str, Any]:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)  # telemetry off through the API, not the environment
        url, path = self.url, self.path
        opened: dict[str, Any] = {}
        try:
            if url:
                parts = urlsplit(url)
                opened["client"] = chromadb.HttpClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=settings,
                )
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
            # Under the write lock (_open): two processes creating a new store at once would race on its schema.
            if not url:
                opened["client"] = chromadb.PersistentClient(path=str(path), settings=settings)
            client = opened["client"]
            meta = {"hnsw:space": "cosine", "embedder": self.embedder_name or "unknown", "dimension": self.dimension}
            for name, collection in (("cases", CASES), ("transitions", TRANSITIONS), ("plans", PLANS)):
                opened[name] = client.get_or_create_collection(collection, embedding_function=None, metadata=meta)
                if url:  # a server's index can be briefly unreadable while another client's writes are flushed
                    opened[name] = _SettlingReads(opened[name])
            opened["policy"] = client.get_or_create_collection(POLICY, embedding_function=None) if url else None
            self._check_embedder((opened["cases"].metadata or {}).get("embedder"))
            self._opened = opened
            journal = self._journal()
            state = self.snapshot.state() if self.snapshot is not None else None
            if journal is not None and (state is None or state.get("status") != CURRENT):
                journal.request_rebuild()  # a bank from before snapshots, or one a writer left stale: rebuilt as the lock is let go
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Could not open the case bank at {url or path}: {exc}") from exc
        return opened

    @property
    def is_open(self) -> bool:
        """Whether Chroma has been opened (imported and connected) in this process."""
        return self._opened is not None

    def open(self) -> None:
        """Open Chroma now, e.g. in a background thread while a model works, so the first write does not wait for it."""
        self._open()

    def rebuild_snapshot(self) -> None:
        """Rewrite the read snapshot from Chroma under the write lock: a repair (writers keep it current on their own)."""
        if self.snapshot is None:
            return
        with self.writing():
            journal = self._journal()
            assert journal is not None
            journal.request_rebuild()

    @property
    def client(self) -> Any:
        return self._open()["client"]

    @property
    def policy(self) -> Any:
        """The policy collection on a Chroma server; None for an embedded store, whose policy lives in a folder."""
        return self._open()["policy"] if self.url else None

    @contextlib.contextmanager
    def reading(self) -> Iterator[View | None]:
        """A current snapshot to read instead of Chroma, or None (a server, a stale snapshot, a write of this thread under way)."""
        if self.snapshot is None or self._depth():
            yield None
            return
        if not self.is_open and (self.snapshot.state() or {}).get("status") == WRITING and self._lock_path is not None:
            # Another process is writing: opening Chroma would wait for its lock anyway, so wait for it here and
            # read the snapshot it leaves current (a writer that died leaves it stale: then Chroma, as before).
            with open(self._lock_path, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH)
                fcntl.flock(handle, fcntl.LOCK_UN)
        with self.snapshot.reading() as view:
            yield view

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive across processes for an embedded store; a Chroma server serialises on its own.

        Embedded, the block's writes are journalled: the snapshot is marked stale before the first one
        reaches Chroma and patched from them when the block ends; a block that raises after writing
        leaves it marked broken, so readers go to Chroma until the next write block rebuilds it.
        Blocks nest within a thread (the outer one holds the lock).
        """
        if self._lock_path is None or self.snapshot is None:
            yield
            return
        local = self._local
        if self._depth():
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            local.depth, local.journal = 1, Journal(self.snapshot)
            try:
                try:
                    yield
                except BaseException:
                    local.journal.abandon()
                    raise
                self._commit(local.journal)
            finally:
                local.depth, local.journal = 0, None
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _commit(self, journal: Journal) -> None:
        if not (journal.started or journal.rebuild):
            return
        opened = self._open()
        try:
            built_with = (opened["cases"].metadata or {}).get("embedder") or self.embedder_name or "unknown"
            journal.commit(opened["cases"], opened["plans"], built_with, self.dimension)
        except Exception as exc:  # Chroma holds the write: the snapshot is left broken, never wrong
            log.warning("the case bank's read snapshot could not be updated (readers use Chroma until the next write): %s", exc)
            journal.started = True
            journal.abandon()

    def _depth(self) -> int:
        depth: int = getattr(self._local, "depth", 0)
        return depth

    def _journal(self) -> Journal | None:
        return getattr(self._local, "journal", None)

    def close(self) -> None:
        """Release the client's connections (a server's HTTP pool, an embedded store's handles)."""
        if self._opened is None:
            return
        try:
            client = self._opened["client"]
            # Chroma's HTTP client keeps its connection pool open after close(); shut it ourselves, first,
            # while the client still holds it (its admin client shares the same pool).
            for owner in (client, getattr(client, "_admin_client", None)):
                session = getattr(getattr(owner, "_server", None), "_session", None)
                if session is not None:
                    session.close()
            client.close()
        except Exception as exc:  # closing twice or after a failed open is harmless
            log.debug("closing the case bank client: %s", exc)

    @property
    def where(self) -> str:
        return self.url or str(self.path)


class _Recorded:
    """A collection opened on first use whose writes to cases and plans are journalled for the snapshot.

    A write outside a `writing()` block takes one for itself, so the snapshot can never miss it.
    """

    _WRITES = ("add", "upsert", "update", "delete")

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        target = getattr(self._store._open()[self._name], attribute)
        if attribute not in self._WRITES or self._name == "transitions" or self._store.snapshot is None:
            return target

        def write(*positional: Any, **arguments: Any) -> Any:
            journal = self._store._journal()
            if journal is None:
                with self._store.writing():
                    return write(*positional, **arguments)
            journal.begin()
            result = target(*positional, **arguments)
            if positional:  # not the keyword form every caller here uses: let Chroma say what was written
                journal.request_rebuild()
            journal.note(self._name, attribute, **arguments)
            return result

        return write


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
