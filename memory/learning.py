"""What Q learns from: the transitions stored beside the cases, turned into training rows.

After an episode, a few online steps on its new transitions plus a replay sample drawn uniformly from
all stored ones (each at most once per sample), and the episode's (task, plan) pair for Q's pair memory;
after MEMENTO_MEMORY_REFIT_EVERY new transitions, and on demand, a refit on every transition (which also
refits the feature scaling). It reads cases and transitions from the store and writes only through the
Q policy; recording episodes and rewards is the case bank's job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .cases import Case, Transition
from .credit import kind_weight
from .errors import CaseMemoryError
from .policy import Pair, QPolicy, Row
from .settings import MemorySettings
from .store import Store

__all__ = ["Example", "QLearning"]

log = logging.getLogger("memento.memory")

# One training example of Q: task vector, case vector, the case's statistics, the reward, the case's plan vector, weight.
Example = Row

_REPLAY = 64  # older transitions rehearsed with each online step, so Q does not forget them


class QLearning:
    """Trains the bank's Q policy from its stored transitions.

    `read_cases` gives the stored cases among some ids with their task embeddings (the bank's own reader),
    `plan_vectors` their plan embeddings; `rng` draws the replay samples: a seeded one makes learning reproducible.
    """

    def __init__(
        self,
        store: Store,
        q: QPolicy,
        settings: MemorySettings,
        read_cases: Callable[[Sequence[str]], tuple[list[Case], np.ndarray]],
        rng: np.random.Generator,
        plan_vectors: Callable[[Sequence[str]], dict[str, np.ndarray]] | None = None,
    ) -> None:
        self.store = store
        self.q = q
        self.settings = settings
        self.read_cases = read_cases
        self.plan_vectors = plan_vectors or (lambda ids: {})
        self.rng = rng
        self.refits = 0  # automatic refits this process made (for reports and tests)
        self._ids: list[str] = []  # the stored transitions that teach (weight > 0): what replay draws from
        self._total = 0  # how many transitions were stored when `_ids` was last made whole

    def online_update(self, task_vector: np.ndarray, transitions: list[Transition], episode: Pair | None = None) -> bool:
        """A few steps of Q on an episode's transitions (and a replay sample); False when nothing was learnt.

        `episode` is the run's own (task, plan, reward, weight), for Q's (task, plan) memory. `transitions` are
        all the episode's stored ones: those of weight 0 teach nothing but are counted, so that replay knows
        the store holds no transitions it has not seen (else it reads every id again)."""
        self._total += len(transitions)
        transitions = [t for t in transitions if t.weight > 0]
        self._ids += [t.id for t in transitions]
        steps = self.settings.memory_online_steps
        if steps == 0 or (not transitions and episode is None):
            return False
        batch = self._rows_for(transitions, [task_vector] * len(transitions))
        if not batch and episode is None:  # every shown case was deleted meanwhile: nothing new to learn from
            return False
        replay = self.replay_sample(_REPLAY, exclude={t.id for t in transitions}) if batch else []
        updated = self.q.update(batch, replay, steps, [episode] if episode is not None else [])
        every = self.settings.memory_refit_every
        if updated and every and self.q.since_fit >= every and self.store.transitions.count() >= self.settings.memory_min_transitions:
            self.refits += 1
            log.info("refitting Q after %d new transitions", self.q.since_fit)
            self.q.fit(self.training_rows(), self.training_pairs())
        return updated

    def replay_sample(self, size: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[Example]:
        """Up to `size` stored transitions that teach Q, drawn uniformly without replacement (none of `exclude`), as rows.

        Uniform over the whole history, so no part of it is rehearsed twice as often as another."""
        ids = self.replay_ids(size, exclude)
        if not ids:
            return []
        return self._rows(self.store.transitions.get(ids=ids, include=["metadatas", "embeddings"]))

    def replay_ids(self, size: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """The ids `replay_sample` reads: up to `size` distinct teaching transitions, uniformly at random."""
        total = self.store.transitions.count()
        if total != self._total:  # another process wrote, or an id was written twice: read the ids again
            got = self.store.transitions.get(include=["metadatas"])
            self._ids = [i for i, m in zip(got["ids"], got["metadatas"]) if float(m.get("weight", 1.0)) > 0]
            self._total = total
        if not self._ids:
            return []
        picks = self.rng.choice(len(self._ids), size=min(size + len(exclude), len(self._ids)), replace=False)
        return [self._ids[i] for i in picks if self._ids[i] not in exclude][:size]

    def training_rows(self) -> list[Example]:
        """Every stored transition as a training row."""
        rows: list[Example] = []
        offset = 0
        while True:
            got = self.store.transitions.get(limit=2000, offset=offset, include=["metadatas", "embeddings"])
            if not got["ids"]:
                return rows
            rows += self._rows(got)
            offset += len(got["ids"])

    def training_pairs(self) -> list[Pair]:
        """The rated episodes a refit rebuilds Q's (task, plan) memory from: every case's own plan run, and
        every followed transition (its task, the followed case's plan)."""
        pairs: list[Pair] = []
        offset = 0
        while True:
            got = self.store.cases.get(limit=2000, offset=offset, include=["metadatas", "documents", "embeddings"])
            if not got["ids"]:
                break
            plans = self.plan_vectors(got["ids"])
            for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                case = Case.from_store(i, d, m)
                weight = kind_weight(case.reward_kind, self.settings)
                if i in plans and weight > 0:
                    pairs.append((np.asarray(e, np.float32), plans[i], case.reward, weight))
            offset += len(got["ids"])
        offset = 0
        while True:
            got = self.store.transitions.get(limit=2000, offset=offset, include=["metadatas", "embeddings"])
            if not got["ids"]:
                return pairs
            followed = [(Transition.from_metadata("", m), e) for m, e in zip(got["metadatas"], got["embeddings"])]
            followed = [(t, e) for t, e in followed if t.followed and t.weight > 0]
            plans = self.plan_vectors([t.case_id for t, _ in followed])
            pairs += [(np.asarray(e, np.float32), plans[t.case_id], t.reward, t.weight) for t, e in followed if t.case_id in plans]
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
            return self.q.fit(rows, self.training_pairs())

    def _rows(self, got: dict[str, Any]) -> list[Example]:
        transitions = [Transition.from_metadata("", m) for m in got["metadatas"]]
        return self._rows_for(transitions, got["embeddings"])

    def _rows_for(self, transitions: Sequence[Transition], task_vectors: Sequence[Any]) -> list[Example]:
        # A transition whose case was deleted since teaches nothing, nor does one of weight 0 (unrated, or not
        # followed when unfollowed cases weigh nothing): they are left out.
        live = [(t, v) for t, v in zip(transitions, task_vectors) if t.weight > 0]
        if not live:
            return []
        ids = list(dict.fromkeys(t.case_id for t, _ in live))
        cases, embeddings = self.read_cases(ids)
        by_id = {c.id: (c, e) for c, e in zip(cases, embeddings)}
        plans = self.plan_vectors(ids)
        rows: list[Example] = []
        for t, task_vector in live:
            if t.case_id in by_id:
                case, case_vector = by_id[t.case_id]
                plan = plans.get(t.case_id)
                rows.append((np.asarray(task_vector, np.float32), case_vector, case.stats(), t.reward, plan, t.weight))
        return rows
