"""What Q learns from: the transitions stored beside the cases, turned into training rows.

After an episode, a few online steps on its new transitions plus a replay sample
of older ones; on demand, a refit on every transition. It reads cases and
transitions from the store and writes only through the Q policy; recording
episodes and rewards is the case bank's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .cases import Case, Transition
from .errors import CaseMemoryError
from .policy import QPolicy
from .settings import MemorySettings
from .store import Store

__all__ = ["Example", "QLearning"]

# One training example of Q: task vector, case vector, the case's statistics, the reward observed.
Example = tuple[np.ndarray, np.ndarray, dict[str, float], float]

_REPLAY = 64  # older transitions rehearsed with each online step, so Q does not forget them


class QLearning:
    """Trains the bank's Q policy from its stored transitions.

    `read_cases` gives the stored cases among some ids with their task embeddings (the bank's own reader),
    `rng` draws the replay samples: a seeded one makes learning reproducible.
    """

    def __init__(
        self,
        store: Store,
        q: QPolicy,
        settings: MemorySettings,
        read_cases: Callable[[Sequence[str]], tuple[list[Case], np.ndarray]],
        rng: np.random.Generator,
    ) -> None:
        self.store = store
        self.q = q
        self.settings = settings
        self.read_cases = read_cases
        self.rng = rng

    def online_update(self, task_vector: np.ndarray, transitions: list[Transition]) -> bool:
        """A few steps of Q on an episode's transitions (and a replay sample); False when nothing was learnt."""
        steps = self.settings.memory_online_steps
        if steps == 0 or not transitions:
            return False
        cases, embeddings = self.read_cases([t.case_id for t in transitions])
        by_id = {c.id: (c, e) for c, e in zip(cases, embeddings)}
        batch = [(task_vector, by_id[t.case_id][1], by_id[t.case_id][0].stats(), t.reward) for t in transitions if t.case_id in by_id]
        if not batch:  # every shown case was deleted meanwhile: nothing new to learn from
            return False
        return self.q.update(batch, self.replay_sample(_REPLAY), steps)

    def replay_sample(self, size: int) -> list[Example]:
        """About `size` consecutive stored transitions from a random place, as training rows."""
        total = self.store.transitions.count()
        if total == 0:
            return []
        offset = int(self.rng.integers(0, max(1, total - size + 1)))
        got = self.store.transitions.get(limit=size, offset=offset, include=["metadatas", "embeddings"])
        return self._rows(got)

    def training_rows(self) -> list[Example]:
        """Every stored transition as (task vector, case vector, case statistics, reward)."""
        rows: list[Example] = []
        offset = 0
        while True:
            got = self.store.transitions.get(limit=2000, offset=offset, include=["metadatas", "embeddings"])
            if not got["ids"]:
                return rows
            rows += self._rows(got)
            offset += len(got["ids"])

    def train(self) -> dict[str, Any]:
        """Refit Q on every stored transition; refused while fewer are stored than Q waits for."""
        rows = self.training_rows()
        needed = self.settings.memory_min_transitions
        if len(rows) < needed:
            raise CaseMemoryError(
                f"Only {len(rows)} transitions are stored; Q needs at least {needed} to train "
                "(MEMENTO_MEMORY_MIN_TRANSITIONS, the same number policy=q waits for)."
            )
        with self.store.writing():
            return self.q.fit(rows)

    def _rows(self, got: dict[str, Any]) -> list[Example]:
        # A transition whose case was deleted since teaches nothing: it is left out.
        rows: list[Example] = []
        case_ids = [m["case_id"] for m in got["metadatas"]]
        cases, embeddings = self.read_cases(list(dict.fromkeys(case_ids)))
        by_id = {c.id: (c, e) for c, e in zip(cases, embeddings)}
        for meta, task_vector in zip(got["metadatas"], got["embeddings"]):
            if meta["case_id"] in by_id:
                case, case_vector = by_id[meta["case_id"]]
                rows.append((np.asarray(task_vector, np.float32), case_vector, case.stats(), float(meta["reward"])))
        return rows
