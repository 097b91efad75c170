"""Choosing k cases from scored candidates, and the learned Q(s, c) shared by every client of the bank.

Greedy selection for evaluation; for exploration, k draws without replacement
from softmax(score / α) (soft Q-learning: better cases are shown more often,
others still get a chance to prove themselves). `QPolicy` loads the newest
Q-function version lazily, publishes every update as a new version (where they
live is `versions.py`'s job), and reports whether it has seen enough
transitions to be trusted over plain similarity.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import QFunctionError
from .versions import KEEP_VERSIONS, FolderVersions, PolicyVersions

__all__ = ["KEEP_VERSIONS", "Pair", "QPolicy", "Row", "select"]

log = logging.getLogger("memento.memory")

# (task embedding, case embedding, case statistics, reward, case plan embedding, weight)
Row = tuple[np.ndarray, np.ndarray, dict[str, float], float, np.ndarray | None, float]
# A rated episode for Q's (task, plan) memory: task embedding, plan embedding, reward, weight.
Pair = tuple[np.ndarray, np.ndarray, float, float]

# By default Q replaces similarity only after it has learned from this many transitions.
MIN_TRANSITIONS = 32
PUBLISH_ATTEMPTS = 8  # an update that loses this many races in a row is dropped (logged), never blocks


def select(
    scores: np.ndarray, k: int, explore: bool = False, temperature: float = 0.5, rng: np.random.Generator | None = None
) -> list[int]:
    """Indices of the k chosen candidates, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return []
    if not explore:
        return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]
    rng = rng or np.random.default_rng()
    logits = (scores - scores.max()) / temperature  # Boltzmann: P(i) ∝ exp(score_i / α)
    weights = np.exp(logits)
    chosen = rng.choice(len(scores), size=k, replace=False, p=weights / weights.sum())
    return sorted((int(i) for i in chosen), key=lambda i: -scores[i])


class QPolicy:
    """The versioned Q-function of one case bank, kept where every client of the bank sees it.

    `versions` is a folder (embedded bank) or a `PolicyVersions` store (a Chroma collection for a bank
    on a server). Every update starts from the newest version and publishes the next one; when
    another client published first, the update is applied again on top of theirs, so no client's
    learning is lost and all of them rank with the same, newest Q.
    """

    def __init__(self, versions: Path | PolicyVersions, min_transitions: int = MIN_TRANSITIONS, ranking: Any = None) -> None:
        self.versions: PolicyVersions = FolderVersions(versions) if isinstance(versions, Path) else versions
        self.min_transitions = min_transitions
        self.ranking = ranking  # a ranking.Ranking (its constants); None: the defaults
        self._model: Any = None
        self._meta: dict[str, Any] = {}
        self._loaded_version = -1
        self._lock = threading.Lock()

    def _load(self, fresh: bool = False) -> Any:
        """The newest model (another process or machine may have published it since the last look).

        Called on every retrieval: the folder store only re-reads its pointer when its stat changed,
        the Chroma store looks for a newer head at most every few seconds (unless `fresh`).
        """
        from .qfunction import QFunction

        head = self.versions.head(fresh)
        if head is None:
            return self._model
        version = int(head.get("version", -1))
        if version >= 0 and version != self._loaded_version:
            raw = self.versions.read(head)
            if raw is None:  # that version went while we looked; the next look finds the newer one
                return self._model
            self._model = QFunction.from_bytes(raw, f"Q-policy version {version} in {self.versions.where}")
            self._meta, self._loaded_version = head, version
        return self._model

    def ready(self) -> bool:
        with self._lock:
            self._load()
            return self._model is not None and int(self._meta.get("transitions_seen", 0)) >= self.min_transitions

    def score(
        self, task: np.ndarray, cases: np.ndarray, stats: list[dict[str, float]], plans: np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        """The ranking score of each candidate (similarity plus Q's evidence-earned correction, `ranking.py`), and
        the version of Q that scored them."""
        from .minilm import one_blas_thread
        from .ranking import Ranking, ranking_scores

        with self._lock:
            model = self._load()
            # Small matrices: BLAS threads only wait on each other (a 10k-case read took 23 ms in the pair memory's
            # estimate on a busy machine).
            with one_blas_thread():
                scores = ranking_scores(model, task, cases, stats, plans, self.ranking or Ranking())
            return np.asarray(scores, dtype=np.float32), self._loaded_version

    @property
    def since_fit(self) -> int:
        """Transitions learned online since the last full fit (as the newest version says)."""
        return int(self._meta.get("since_fit", self._meta.get("transitions_seen", 0)))

    def update(self, batch: list[Row], replay: list[Row], steps: int, pairs: Sequence[Pair] = ()) -> bool:
        """A few online steps on this episode's transitions plus a replay sample, published as a new version."""
        from .qfunction import QFunction

        with self._lock:
            for _ in range(PUBLISH_ATTEMPTS):
                base_model = self._load(fresh=True)
                base, base_meta = self._loaded_version, dict(self._meta)
                model = copy.deepcopy(base_model) if base_model is not None else QFunction()
                started = time.perf_counter()
                if batch or replay:
                    model.update(batch + replay, steps=steps, pairs=pairs)
                else:
                    model.remember_pairs(pairs)
                facts = {
                    "transitions_seen": int(base_meta.get("transitions_seen", 0)) + len(batch),
                    "since_fit": int(base_meta.get("since_fit", base_meta.get("transitions_seen", 0))) + len(batch),
                    "last_update_ms": round((time.perf_counter() - started) * 1000, 2),
                }
                if self._publish(base, base_meta, model, facts):
                    return True
            log.warning("Q update not published: other clients kept publishing first (%d attempts)", PUBLISH_ATTEMPTS)
            return False

    def fit(self, rows: list[Row], pairs: Sequence[Pair] = ()) -> dict[str, Any]:
        """Retrain from scratch on every stored transition; published as a new version (the last writer wins)."""
        from .qfunction import QFunction

        with self._lock:
            started = time.perf_counter()
            model = QFunction()
            report = model.fit(rows, pairs) or {}
            seconds = round(time.perf_counter() - started, 2)
            facts = {"transitions_seen": len(rows), "trained_on": len(rows), "train_seconds": seconds, "since_fit": 0}
            for _ in range(PUBLISH_ATTEMPTS):
                self._load(fresh=True)
                if self._publish(self._loaded_version, dict(self._meta), model, facts):
                    return {"transitions": len(rows), "train_seconds": seconds, "version": self._loaded_version, **report}
            raise QFunctionError(f"Could not publish the trained Q-policy to {self.versions.where}: other clients kept publishing first.")

    def _publish(self, base: int, base_meta: dict[str, Any], model: Any, facts: dict[str, Any]) -> bool:
        kept: dict[str, Any] = {k: base_meta[k] for k in ("trained_on", "train_seconds") if k in base_meta}
        head = self.versions.publish(base, model.to_bytes(), {**kept, **facts, "saved_at": time.time()})
        if head is None:
            return False
        self._model, self._meta, self._loaded_version = model, head, int(head["version"])
        return True

    def describe(self) -> dict[str, Any]:
        head = self.versions.head(fresh=True)
        if not head:
            return {"trained": False, "kept_in": self.versions.where}
        facts: dict[str, Any] = {k: head[k] for k in ("version", "transitions_seen", "train_seconds", "saved_at") if k in head}
        return {"trained": True, **facts, "kept_in": self.versions.where, "history": self.versions.history()}
