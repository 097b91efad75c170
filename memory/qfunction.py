"""The learned case-selection policy Q(s, c) ≈ P(success | task s, case c shown).

Frozen task and case embeddings plus the case's statistics become a few features, which a
logistic regression (binary cross-entropy, L2) turns into a probability:

    task prior        kernel-weighted success rate of the most similar past tasks (a
                      non-parametric memory of (task embedding, reward) kept in the model)
    case rate         smoothed success rate of episodes in which this case was shown
    case uses         log(1 + times shown)
    case reward       the case's own outcome (0..1)
    plan steps        log(1 + steps of the case's plan)
    similarity        cosine(s, c), and the same signed by the case's outcome
    set rate          mean case rate over the candidates shown with the task (its context)
    task density      mean cosine of the 10 nearest remembered tasks
    task entities     share of capitalised words in the task text (when the caller gives it)

Why this shape: on the reference transitions most of the label is how hard the task is, and
a kernel over past tasks predicts that better (AUC 0.67) than a network on raw embedding pairs,
which overfits 700 queries (0.60); only the case terms re-rank the cases of one task. The last
three estimate difficulty too (test AUC 0.675 -> 0.713, 10 splits, bench/qfunction_eval.py); they
are the same for every candidate of a task, so they move the probability, never the ranking.
Training features are leave-one-out (a row never sees its own task or its own outcome), so
they match what scoring sees. Pure numpy, no torch: fit takes well under a second for
thousands of transitions, an online update a few milliseconds. Stores no text.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cases import SUCCESS
from .errors import QFunctionError
from .pairs import PairMemory
from .qfeatures import DENSITY_NEIGHBOURS, FEATURES, _logit, _sigmoid, _task_keys, _unit, set_mean, text_column

__all__ = ["FEATURES", "FORMAT_VERSION", "QFunction", "QFunctionError", "TrainingRow"]

FORMAT_VERSION = 3
_ENTITIES = FEATURES.index("task_entities")


@dataclass(frozen=True)
class TrainingRow:
    """One transition: a task, a case shown for it, the case's statistics and the episode's reward.

    `case_stats` keys (all optional): reward (the case's own outcome, 0..1; or `positive` 0/1),
    uses (episodes the case was shown in), successes (how many of them succeeded), plan_steps.
    The bank's counts include this transition's own episode; training removes it again.
    """

    task_emb: np.ndarray
    case_emb: np.ndarray
    case_stats: Mapping[str, float]
    reward: float
    plan_emb: np.ndarray | None = None  # the embedding of the case's plan text (None: unknown)
    weight: float = 1.0  # how much the row counts: followed and verified 1, less otherwise
    task_text: str | None = None  # read for a number (`qfeatures.entity_share`), never stored


def _as_row(item: Any) -> TrainingRow:
    if isinstance(item, TrainingRow):
        return item
    if isinstance(item, Mapping):
        return TrainingRow(
            item["task_emb"], item["case_emb"], item.get("case_stats") or {}, float(item["reward"]),
            item.get("plan_emb"), float(item.get("weight", 1.0)), item.get("task_text"),
        )  # fmt: skip
    if isinstance(item, Sequence) and len(item) in (4, 6):  # (task, case, stats, reward[, plan, weight])
        task, case, stats, reward = item[:4]
        plan, weight = item[4:] if len(item) == 6 else (None, 1.0)
        return TrainingRow(task, case, stats or {}, float(reward), plan, float(weight))
    raise QFunctionError(f"a transition must be (task_emb, case_emb, case_stats, reward[, plan_emb, weight]), got {type(item).__name__}")


# A rated episode for the (task, plan) memory: task embedding, plan embedding, reward, weight.
Pair = tuple[np.ndarray, np.ndarray, float, float]


class QFunction:
    """Q(s, c) over frozen embeddings. `fit` retrains, `update` learns online, `score` ranks cases."""

    def __init__(
        self,
        *,
        neighbours: int = 100,
        temperature: float = 0.1,
        case_prior: float = 5.0,
        l2: float = 1.0,
        learning_rate: float = 0.05,
        max_tasks: int = 10_000,
        pairs: Mapping[str, float] | None = None,
    ) -> None:
        self.neighbours, self.temperature, self.case_prior = neighbours, temperature, case_prior
        self.l2, self.learning_rate, self.max_tasks = l2, learning_rate, max_tasks
        self._pair_settings = dict(pairs or {})
        self._reset()

    def _reset(self) -> None:
        self.base_rate = 0.5
        self.transitions_seen = 0
        # Task memory: a ring of distinct tasks (embedding, mean reward); the oldest go first when full.
        self._task_embs = np.zeros((0, 0), dtype=np.float32)
        self._task_rewards = np.zeros(0, dtype=np.float64)
        self._slot_keys: list[bytes | None] = []
        self._task_index: dict[bytes, int] = {}
        self._n_tasks = 0
        self._next_slot = 0
        self.pairs = PairMemory(**self._pair_settings)  # type: ignore[arg-type]
        # Combiner on standardised features. Untrained, it ranks by similarity alone.
        self._mean = np.zeros(len(FEATURES))
        self._scale = np.ones(len(FEATURES))
        self._weights = np.zeros(len(FEATURES))
        self._weights[FEATURES.index("similarity")] = 4.0
        self._bias = 0.0

    @property
    def trained(self) -> bool:
        return self.transitions_seen > 0

    @property
    def weights(self) -> dict[str, float]:
        """Per-feature weights on the standardised features (for reports)."""
        return {name: float(w) for name, w in zip(FEATURES, self._weights)}

    # ---- features ----------------------------------------------------------------------

    def _task_memory(self, task_embs: np.ndarray, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the kernel-weighted mean reward of the nearest remembered tasks (the prior), and the mean
        cosine of the nearest `DENSITY_NEIGHBOURS` of them (how familiar the task is); `exclude[i]` leaves one out."""
        n = len(task_embs)
        if self._n_tasks == 0:
            return np.full(n, self.base_rate), np.zeros(n)
        # Rows of one task share a prior: compute it once per distinct (task, left-out slot).
        own = np.full(n, -1) if exclude is None else exclude
        distinct: dict[tuple[bytes, int], int] = {}
        inverse = np.array([distinct.setdefault((key, int(o)), len(distinct)) for key, o in zip(_task_keys(task_embs), own)])
        first = np.zeros(len(distinct), dtype=int)
        first[inverse[::-1]] = np.arange(n)[::-1]
        embs, own = task_embs[first], own[first]
        prior, density = np.empty(len(embs)), np.empty(len(embs))
        for start in range(0, len(embs), 1024):  # blocks bound the similarity matrix's memory
            block = slice(start, start + 1024)
            prior[block], density[block] = self._kernel_mean(embs[block], own[block])
        return prior[inverse], density[inverse]

    def _kernel_mean(self, embs: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sims = embs @ self._task_embs[: self._n_tasks].T
        left_out = own >= 0
        sims[np.flatnonzero(left_out), own[left_out]] = -np.inf
        k = min(self.neighbours, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(np.arange(k), (len(embs), 1))
        near = np.take_along_axis(sims, top, axis=1)
        best = np.max(near, axis=1, keepdims=True)
        weights = np.where(np.isfinite(near), np.exp((near - np.where(np.isfinite(best), best, 0.0)) / self.temperature), 0.0)
        total = weights.sum(axis=1)
        prior = (weights * self._task_rewards[top]).sum(axis=1) / np.maximum(total, 1e-12)
        d = min(DENSITY_NEIGHBOURS, k)
        closest = -np.sort(-near, axis=1)[:, :d]  # a left-out task (-inf) sorts last
        found = np.isfinite(closest)
        density = np.where(found, closest, 0.0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)
        return np.where(total > 0, prior, self.base_rate), density

    def _features(
        self,
        task_embs: np.ndarray,
        case_embs: np.ndarray,
        stats: Sequence[Mapping[str, float]],
        rewards: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
        memory: tuple[np.ndarray, np.ndarray] | None = None,
        plan_embs: np.ndarray | None = None,
        texts: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Feature matrix, one row per (task, case). With `rewards`, each row's own outcome is taken out; `memory`
        is each row's (task prior, task density) when the caller has them.

        Rows of one task are its candidate set: `set_rate` is read over them (the context a retrieval gives Q)."""
        uses = np.array([float(s.get("uses", 0.0)) for s in stats])
        successes = np.array([float(s.get("successes", 0.0)) for s in stats])
        if rewards is not None:  # the bank's counts include this episode: remove it (leave-one-out)
            successes = np.clip(successes - (rewards >= SUCCESS), 0, None)
            uses = np.clip(uses - 1, 0, None)
        successes = np.minimum(successes, uses)
        case_reward = np.array([float(s.get("reward", s.get("positive", 0.5))) for s in stats])
        steps = np.array([float(s.get("plan_steps", 0.0)) for s in stats])
        similarity = np.sum(task_embs * case_embs, axis=1)
        rate = (successes + self.case_prior * self.base_rate) / (uses + self.case_prior)
        prior, density = self._task_memory(task_embs, exclude) if memory is None else memory
        credit = np.array([float(s.get("credit", s.get("reward", 0.5))) for s in stats])
        plans = np.zeros_like(task_embs) if plan_embs is None else plan_embs
        pair_mean, pair_evidence = self.pairs.estimate(task_embs, plans, self.base_rate, leave_task_out=rewards is not None)
        return np.column_stack(
            [
                _logit(prior),
                _logit(rate),
                np.log1p(uses),
                case_reward,
                np.log1p(steps),
                similarity,
                (2 * case_reward - 1) * similarity,
                _logit(credit),
                _logit(pair_mean),
                np.log1p(pair_evidence),
                set_mean(_logit(rate), task_embs),
                density,
                # Unknown text counts as the mean of training (neutral); the first fit takes the mean of its rows.
                text_column(texts, len(stats), float(self._mean[_ENTITIES]) if self.trained else None),
            ]
        )

    # ---- learning ----------------------------------------------------------------------

    def _remember(self, task_embs: np.ndarray, rewards: np.ndarray) -> np.ndarray:
        """Set each distinct task's remembered reward to its mean here; return each row's slot."""
        keys = _task_keys(task_embs)
        groups: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        if self._task_embs.size == 0:
            capacity = min(self.max_tasks, max(1024, 2 * len(groups)))
            self._task_embs = np.zeros((capacity, task_embs.shape[1]), dtype=np.float32)
            self._task_rewards = np.zeros(capacity)
            self._slot_keys = [None] * capacity
        for key, members in groups.items():
            slot = self._task_index.get(key)
            if slot is None:
                slot = self._claim_slot()
                self._task_embs[slot] = task_embs[members[0]]
                self._slot_keys[slot] = key
                self._task_index[key] = slot
            self._task_rewards[slot] = float(np.mean(rewards[members]))
        return np.array([self._task_index.get(key, -1) for key in keys])

    def _claim_slot(self) -> int:
        """A free slot, growing the buffer up to `max_tasks`, then reusing the oldest task's slot."""
        if self._n_tasks < len(self._task_rewards):
            self._n_tasks += 1
            return self._n_tasks - 1
        if self._n_tasks < self.max_tasks:
            grow = min(self.max_tasks, 2 * self._n_tasks) - self._n_tasks
            self._task_embs = np.vstack([self._task_embs, np.zeros((grow, self._task_embs.shape[1]), np.float32)])
            self._task_rewards = np.concatenate([self._task_rewards, np.zeros(grow)])
            self._slot_keys += [None] * grow
            self._n_tasks += 1
            return self._n_tasks - 1
        slot = self._next_slot
        self._next_slot = (slot + 1) % self.max_tasks
        old = self._slot_keys[slot]
        if old is not None:
            self._task_index.pop(old, None)
        return slot

    def _arrays(
        self, transitions: Iterable[Any]
    ) -> tuple[np.ndarray, np.ndarray, list[Mapping[str, float]], np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
        rows = [_as_row(t) for t in transitions]
        if not rows:
            raise QFunctionError("no transitions to learn from: record episodes first")
        tasks = _unit(np.stack([np.asarray(r.task_emb, dtype=np.float32) for r in rows]))
        cases = _unit(np.stack([np.asarray(r.case_emb, dtype=np.float32) for r in rows]))
        if tasks.shape != cases.shape:
            raise QFunctionError(f"task and case embeddings differ in size: {tasks.shape[1]} vs {cases.shape[1]}")
        if self._n_tasks and self._task_embs.shape[1] != tasks.shape[1]:
            raise QFunctionError(
                f"embeddings have {tasks.shape[1]} dimensions but this Q-function was trained on "
                f"{self._task_embs.shape[1]}: retrain it with `memento memory train`"
            )
        rewards = np.clip(np.array([r.reward for r in rows], dtype=np.float64), 0.0, 1.0)
        plans = np.stack([np.zeros(tasks.shape[1], np.float32) if r.plan_emb is None else np.asarray(r.plan_emb, np.float32) for r in rows])
        weights = np.clip(np.array([r.weight for r in rows], dtype=np.float64), 0.0, None)
        return tasks, cases, [r.case_stats for r in rows], rewards, plans, weights, [r.task_text for r in rows]

    def remember_pairs(self, pairs: Iterable[Pair]) -> None:
        """Add rated episodes to the (task, plan) memory."""
        pairs = list(pairs)
        if pairs:
            self.pairs.add(
                np.stack([np.asarray(p[0], np.float32) for p in pairs]), np.stack([np.asarray(p[1], np.float32) for p in pairs]),
                np.array([p[2] for p in pairs], float), np.array([p[3] for p in pairs], float),
            )  # fmt: skip

    def fit(self, transitions: Iterable[Any], pairs: Iterable[Pair] = ()) -> dict[str, Any]:
        """Retrain from scratch on all transitions (and the rated episodes for the (task, plan) memory).

        Feature scaling is refitted with the weights, from the same rows."""
        tasks, cases, stats, rewards, plans, weights, texts = self._arrays(transitions)
        self._reset()
        self.base_rate = float(np.clip(np.average(rewards, weights=weights) if weights.sum() > 0 else rewards.mean(), 0.01, 0.99))
        index = self._remember(tasks, rewards)
        self.remember_pairs(pairs)
        x = self._features(tasks, cases, stats, rewards, exclude=index, plan_embs=plans, texts=texts)
        spread = x.std(axis=0)
        self._mean, self._scale = x.mean(axis=0), np.where(spread > 1e-6, spread, 1.0)
        self._weights, self._bias = self._newton((x - self._mean) / self._scale, rewards, weights)
        self.transitions_seen = len(rewards)
        return {"transitions": len(rewards), "tasks": self._n_tasks, "pairs": len(self.pairs), "weights": self.weights}

    def _newton(self, x: np.ndarray, y: np.ndarray, sample: np.ndarray | None = None, iterations: int = 25) -> tuple[np.ndarray, float]:
        """L2-regularised, row-weighted logistic regression by Newton's method (exact and fast for few features)."""
        design = np.column_stack([x, np.ones(len(x))])
        sample = np.ones(len(x)) if sample is None else sample
        theta = np.zeros(design.shape[1])
        penalty = np.full(design.shape[1], self.l2)
        penalty[-1] = 0.0  # the intercept is not shrunk
        for _ in range(iterations):
            p = _sigmoid(design @ theta)
            gradient = design.T @ (sample * (p - y)) + penalty * theta
            hessian = (design * (sample * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hessian, gradient)
            theta -= step
            if np.max(np.abs(step)) < 1e-7:
                break
        return theta[:-1], float(theta[-1])

    def update(self, transitions: Iterable[Any], steps: int = 5, pairs: Iterable[Pair] = ()) -> dict[str, Any]:
        """Learn online from new transitions (plus any replay sample mixed in): remember their tasks'
        rewards, then take `steps` gradient steps of the weights on them; then remember the episode's
        (task, plan) pairs (after the steps: the rows must not see their own outcome)."""
        tasks, cases, stats, rewards, plans, weights, texts = self._arrays(transitions)
        seen = self.transitions_seen
        self.base_rate = float(np.clip((self.base_rate * seen + rewards.sum()) / (seen + len(rewards)), 0.01, 0.99))
        index = self._remember(tasks, rewards)
        raw = self._features(tasks, cases, stats, rewards, exclude=index, plan_embs=plans, texts=texts)
        if not self.trained:  # learning from scratch online: scale features by this first batch
            spread = raw.std(axis=0)
            self._mean, self._scale = raw.mean(axis=0), np.where(spread > 1e-6, spread, 1.0)
            self._weights = np.where(np.arange(len(FEATURES)) == FEATURES.index("similarity"), 1.0, 0.0)
        x = (raw - self._mean) / self._scale
        n = max(float(weights.sum()), 1e-9)
        for _ in range(steps):
            p = _sigmoid(x @ self._weights + self._bias)
            error = weights * (p - rewards)
            self._weights -= self.learning_rate * (x.T @ error / n + self.l2 * self._weights / max(self.transitions_seen, n))
            self._bias -= self.learning_rate * float(error.sum() / n)
        self.transitions_seen += len(rewards)
        self.remember_pairs(pairs)
        return {"transitions": n, "steps": steps}

    # ---- use ---------------------------------------------------------------------------

    def score(
        self,
        task_emb: np.ndarray,
        case_embs: np.ndarray,
        case_stats: Sequence[Mapping[str, float]],
        plan_embs: np.ndarray | None = None,
        task_text: str | None = None,
    ) -> np.ndarray:
        """P(success) for each candidate case shown for this task, shape (n,); `plan_embs` are the cases' plans.

        The candidates are scored as one set: what they say together (`set_rate`) is part of each estimate."""
        case_embs = np.asarray(case_embs, dtype=np.float32)
        if case_embs.ndim != 2 or len(case_embs) != len(case_stats):
            raise QFunctionError("case_embs must be (n, d) with one statistics dict per case")
        if len(case_embs) == 0:
            return np.zeros(0)
        task = _unit(np.asarray(task_emb, dtype=np.float32).reshape(1, -1))
        tasks = np.repeat(task, len(case_embs), axis=0)
        prior, density = self._task_memory(task)  # one task: its prior once
        memory = (np.repeat(prior, len(case_embs)), np.repeat(density, len(case_embs)))
        x = self._features(tasks, _unit(case_embs), case_stats, memory=memory, plan_embs=plan_embs, texts=[task_text] * len(case_embs))
        return self._blend(_sigmoid(((x - self._mean) / self._scale) @ self._weights + self._bias), tasks, plan_embs, case_stats)

    def _blend(self, p0: np.ndarray, tasks: np.ndarray, plan_embs: np.ndarray | None, stats: Sequence[Mapping[str, float]]) -> np.ndarray:
        """The pair memory's evidence, with the combiner's estimate as its prior: how plans like this case's fared on
        tasks like this one decides as soon as there is evidence, the combiner while there is little.

        A failure is shown as a plan to avoid, so its value is the chance that its plan fails, halved (a warning
        helps less than an example to follow): a failed case with a plan that works for such tasks ranks low."""
        if plan_embs is None or not len(self.pairs):
            return p0
        plans = np.asarray(plan_embs, dtype=np.float32)
        shrunk, evidence = self.pairs.estimate(tasks, plans, 0.0)
        total = shrunk * (evidence + self.pairs.prior)  # the kernel-weighted reward sum (shrunk towards 0 above)
        follow = (total + self.pairs.prior * p0) / (evidence + self.pairs.prior)
        negative = np.array([float(s.get("negative", 0.0)) for s in stats]) > 0
        avoid = (0.5 * (evidence - total) + self.pairs.prior * p0) / (evidence + self.pairs.prior)
        return np.where(negative, avoid, follow)

    def score_many(
        self,
        task_embs: np.ndarray,
        case_embs: np.ndarray,
        case_stats: Sequence[Mapping[str, float]],
        plan_embs: np.ndarray | None = None,
        task_texts: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """P(success) for aligned rows of (task, case) pairs, for batch evaluation; the rows of one task are its
        candidate set (as `score` sees them)."""
        tasks = _unit(task_embs)
        x = self._features(tasks, _unit(case_embs), case_stats, plan_embs=plan_embs, texts=task_texts)
        return self._blend(_sigmoid(((x - self._mean) / self._scale) @ self._weights + self._bias), tasks, plan_embs, case_stats)

    # ---- persistence -------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the model to `path` atomically (an .npz archive with a JSON header; no pickle)."""
        path = Path(path)
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(self.to_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)

    def to_bytes(self) -> bytes:
        """The model as the bytes `save` writes (what a shared store keeps)."""
        header = {
            "format": "memento-qfunction",
            "version": FORMAT_VERSION,
            "features": list(FEATURES),
            "settings": {
                "neighbours": self.neighbours, "temperature": self.temperature, "case_prior": self.case_prior,
                "l2": self.l2, "learning_rate": self.learning_rate, "max_tasks": self.max_tasks,
                "pairs": self.pairs.settings(),
            },
            "base_rate": self.base_rate,
            "bias": self._bias,
            "transitions_seen": self.transitions_seen,
            "next_slot": self._next_slot,
            "pair_next_slot": self.pairs.next_slot,
        }  # fmt: skip
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            "task_embs": self._task_embs[: self._n_tasks],
            "task_rewards": self._task_rewards[: self._n_tasks],
            "mean": self._mean,
            "scale": self._scale,
            "weights": self._weights,
            **self.pairs.arrays(),
        }
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> QFunction:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise QFunctionError(f"cannot read the Q-function {path}: {exc}; retrain it with `memento memory train`") from exc
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, raw: bytes, path: str = "the Q-function") -> QFunction:
        """A model from the bytes `to_bytes` gave; `path` names where they came from in errors."""
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                arrays = {name: data[name] for name in data.files if name != "header"}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise QFunctionError(f"cannot read the Q-function {path}: {exc}; retrain it with `memento memory train`") from exc
        if header.get("format") != "memento-qfunction" or header.get("version") not in (1, 2, FORMAT_VERSION):
            raise QFunctionError(
                f"{path} holds Q-function format {header.get('version')!r}, this version reads {FORMAT_VERSION}: "
                "retrain it with `memento memory train`"
            )
        model = cls(**header["settings"])
        model.base_rate, model._bias = float(header["base_rate"]), float(header["bias"])
        model.transitions_seen = int(header["transitions_seen"])
        if arrays["task_embs"].size:
            model._task_embs = arrays["task_embs"].astype(np.float32)
            model._task_rewards = arrays["task_rewards"].astype(np.float64)
            model._slot_keys = list(_task_keys(model._task_embs))
            model._task_index = {key: i for i, key in enumerate(model._slot_keys) if key is not None}
            model._n_tasks, model._next_slot = len(model._task_rewards), int(header.get("next_slot", 0))
        model._mean, model._scale, model._weights = arrays["mean"], arrays["scale"], arrays["weights"]
        extra = len(FEATURES) - len(model._weights)
        if extra > 0:  # an archive from before the newer features (format 1 or 2): they start at weight 0
            model._mean = np.concatenate([model._mean, np.zeros(extra)])
            model._scale = np.concatenate([model._scale, np.ones(extra)])
            model._weights = np.concatenate([model._weights, np.zeros(extra)])
        if header["version"] >= 2 and "pair_rewards" in arrays:
            model.pairs.load(arrays, int(header.get("pair_next_slot", 0)))
        return model
