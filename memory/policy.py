"""Choosing k cases from scored candidates, and the learned Q(s, c) kept beside the bank.

Greedy selection for evaluation; for exploration, k draws without replacement
from softmax(score / α) (soft Q-learning: better cases are shown more often,
others still get a chance to prove themselves). `QPolicy` loads the current
Q-function version lazily, saves every update as a new version, and reports
whether it has seen enough transitions to be trusted over plain similarity.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["QPolicy", "Row", "select"]

log = logging.getLogger("memento.memory")

# (task embedding, case embedding, case statistics, reward)
Row = tuple[np.ndarray, np.ndarray, dict[str, float], float]

# By default Q replaces similarity only after it has learned from this many transitions.
MIN_TRANSITIONS = 32
KEEP_VERSIONS = 5


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
    logits = (scores - scores.max()) / temperature
    weights = np.exp(logits)
    chosen = rng.choice(len(scores), size=k, replace=False, p=weights / weights.sum())
    return sorted((int(i) for i in chosen), key=lambda i: -scores[i])


class QPolicy:
    """The versioned Q-function of one case bank, stored in `folder`."""

    def __init__(self, folder: Path, min_transitions: int = MIN_TRANSITIONS) -> None:
        self.folder = folder
        self.min_transitions = min_transitions
        self._model: Any = None
        self._meta: dict[str, Any] = {}
        self._loaded_version = -1
        # (inode, mtime_ns, size) of current.json when last read; saves replace the file, so each new
        # version has a new inode even when two land within one clock tick.
        self._pointer_seen: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    @property
    def _pointer(self) -> Path:
        return self.folder / "current.json"

    def _read_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self._pointer.read_text())
        except (OSError, ValueError):
            return {}

    def _load(self) -> Any:
        """The current model, reloaded when another process saved a newer version.

        Called on every retrieval, so the pointer file is only re-read when its stat changed.
        """
        from .qfunction import QFunction

        try:
            stat = self._pointer.stat()
        except OSError:
            return self._model
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen == self._pointer_seen:
            return self._model
        self._pointer_seen = seen
        meta = self._read_meta()
        version = int(meta.get("version", -1))
        if version >= 0 and version != self._loaded_version:
            self._model = QFunction.load(self.folder / meta["file"])
            self._meta, self._loaded_version = meta, version
        return self._model

    def ready(self) -> bool:
        with self._lock:
            self._load()
            return self._model is not None and int(self._meta.get("transitions_seen", 0)) >= self.min_transitions

    def score(self, task: np.ndarray, cases: np.ndarray, stats: list[dict[str, float]]) -> np.ndarray:
        with self._lock:
            model = self._load()
            return np.asarray(model.score(task, cases, stats), dtype=np.float32)

    def update(self, batch: list[Row], replay: list[Row], steps: int) -> bool:
        """A few online steps on this episode's transitions plus a replay sample; saves a new version."""
        from .qfunction import QFunction

        with self._lock:
            model = self._load() or QFunction()
            started = time.perf_counter()
            model.update(batch + replay, steps=steps)
            seen = int(self._meta.get("transitions_seen", 0)) + len(batch)
            self._save(model, {"transitions_seen": seen, "last_update_ms": round((time.perf_counter() - started) * 1000, 2)})
            return True

    def fit(self, rows: list[Row]) -> dict[str, Any]:
        """Retrain from scratch on every stored transition; saves a new version."""
        from .qfunction import QFunction

        with self._lock:
            started = time.perf_counter()
            model = QFunction()
            report = model.fit(rows) or {}
            seconds = time.perf_counter() - started
            self._save(model, {"transitions_seen": len(rows), "trained_on": len(rows), "train_seconds": round(seconds, 2)})
            return {"transitions": len(rows), "train_seconds": round(seconds, 2), "version": self._loaded_version, **report}

    def _save(self, model: Any, facts: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        version = int(self._read_meta().get("version", -1)) + 1
        name = f"q-v{version:05d}.bin"
        model.save(self.folder / name)
        meta = {**self._meta, **facts, "version": version, "file": name, "saved_at": time.time()}
        temporary = self._pointer.with_suffix(".tmp")
        temporary.write_text(json.dumps(meta, indent=2))
        temporary.replace(self._pointer)  # atomic: readers see the old version or the new one
        self._meta, self._loaded_version, self._model = meta, version, model
        for old in sorted(self.folder.glob("q-v*.bin"))[:-KEEP_VERSIONS]:
            old.unlink(missing_ok=True)

    def describe(self) -> dict[str, Any]:
        meta = self._read_meta()
        if not meta:
            return {"trained": False}
        return {"trained": True, **{k: meta[k] for k in ("version", "transitions_seen", "train_seconds", "saved_at") if k in meta}}
