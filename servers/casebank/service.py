"""The casebank tools' work without MCP: the case bank, opened on first use, and its errors as server errors.

`server.py` registers the tools and `present.py` shapes their results. The
bank itself (Chroma, the embedder, the Q-function) lives in `memento.memory`,
imported only when the first call needs it, so the server starts at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from memento.servers.common.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from memento.memory import CaseBank, MemorySettings, Recorded, Retrieval
    from memento.memory.embeddings import TextEmbedder

__all__ = ["CaseBankService"]


@contextlib.contextmanager
def _memory_errors() -> Iterator[None]:
    """The memory's own errors, as tool errors a model can act on."""
    from memento.memory import CaseMemoryError, CaseNotFound

    try:
        yield
    except CaseNotFound as exc:
        raise NotFound(str(exc)) from exc
    except CaseMemoryError as exc:
        raise InvalidInput(str(exc)) from exc


class CaseBankService:
    """The case bank shared by every call, opened on first use (Chroma and the embedding model are slow to load)."""

    def __init__(self, settings: MemorySettings, embedder: TextEmbedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder  # None: the one the settings name, loaded on first use
        self._bank: CaseBank | None = None
        self._lock = threading.Lock()

    def bank(self) -> CaseBank:
        """The open bank, opening it on the first call."""
        with self._lock:
            if self._bank is None:
                from memento.memory import CaseBank

                self._bank = CaseBank.open(self.settings, self.embedder)
            return self._bank

    def close(self) -> None:
        """Close the bank if it was opened."""
        with self._lock:
            if self._bank is not None:
                self._bank.close()
                self._bank = None

    def warm(self) -> None:
        """Open the bank and load the embedder ahead of the first call."""
        with contextlib.suppress(Exception):  # a failure here shows up, explained, on the first call
            self.bank().embedder.embed(["warm up"])

    def retrieve(self, task: str, k: int, policy: str) -> Retrieval:
        """The k past cases most likely to help with `task`, successes and failures apart."""
        with _memory_errors():
            return self.bank().retrieve(task, k=k, policy=policy)

    def save(
        self,
        task: str,
        plan: list[str],
        answer: str,
        reward: float | None,
        shown_case_ids: Sequence[str],
        notes: str,
        tools: Sequence[str] = (),
        outcome: str = "",
        run_id: str | None = None,
        followed_case_ids: Sequence[str] | None = None,
        reward_kind: str = "verified",
    ) -> Recorded:
        """Record how a task went: its case (one per task) and a transition per case shown for it."""
        with _memory_errors():
            return self.bank().record_episode(
                task,
                plan,
                answer,
                reward,
                shown_case_ids=shown_case_ids,
                summary=notes,
                tools=tools,
                source="mcp",
                run_id=run_id,
                outcome=outcome,
                followed_case_ids=followed_case_ids,
                reward_kind=reward_kind,
            )

    def feedback(self, case_id: str, reward: float) -> dict[str, Any]:
        """Correct the reward of a saved case or run."""
        with _memory_errors():
            return self.bank().feedback(case_id, reward)

    def stats(self) -> dict[str, Any]:
        """How many cases and transitions the bank holds, and the learned policy's state."""
        with _memory_errors():
            return self.bank().stats()
