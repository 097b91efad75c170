"""How retrieval ranks candidates with Q: cosine similarity plus a learned correction that evidence must earn.

The correction is how plans like a case's fared on tasks like this one (Q's (task, plan) memory), shrunk
towards the base rate by the evidence behind it, so that with no evidence the ranking is exactly similarity's;
for a case shown as an example, also the reward its plan's own linear model predicts here (the plan value).
It only reads a trained `QFunction`; learning and probabilities for evaluation (`QFunction.score`) stay there.

What decided it (bench/continual.py, held-out success, q - similarity at passes 3-5, seeds 0-9): the kernel bonus
and plan fit alone +0.017, +0.043, +0.037; with the plan value +0.053, +0.068, +0.085 (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Ranking", "ranking_scores"]

VALUED = 16  # the leading non-negative candidates whose plans the per-plan model values


@dataclass(frozen=True)
class Ranking:
    """The constants of the correction (MEMENTO_MEMORY_BONUS_WEIGHT and the rest; `of(settings)`).

    Why these defaults: bench/continual.py (10 seeds at these; other values on dev seeds), bench/README.md."""

    bonus_weight: float = 0.3  # cosine points per unit of (shrunk mean reward - base rate)
    bonus_prior: float = 0.1  # pseudo-evidence (in kernel weight) at the base rate: thin evidence earns little
    task_width: float = 0.1  # task kernel exp((cos - 1) / width): narrow, so other task types (median cos 0.16) barely count
    warning_share: float = 0.5  # a failure is shown as a plan to avoid: it earns (the other way round) half as much
    plan_fit_weight: float = 1.0  # cosine points per unit of plan fit (the task-to-plan map agreeing with the case's plan)
    plan_fit_ridge: float = 1.0  # the map's L2 penalty: with few successes behind it, its predictions shrink to nothing
    plan_value_weight: float = 1.0  # cosine points per unit of the plan's predicted reward here minus the base rate (positive cases)
    plan_value_prior: float = 0.1  # prior variance of that model's constant
    plan_value_noise: float = 1.0  # its noise variance per unit of episode weight: more, and thin evidence earns less

    @classmethod
    def of(cls, settings: Any) -> Ranking:
        """The ranking a `MemorySettings` asks for (its memory_* fields of the same names)."""
        return cls(**{name: float(getattr(settings, f"memory_{name}")) for name in cls.__dataclass_fields__})


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def ranking_scores(
    model: Any,
    task_emb: np.ndarray,
    case_embs: np.ndarray,
    case_stats: Sequence[Mapping[str, float]],
    plan_embs: np.ndarray | None,
    ranking: Ranking = Ranking(),
) -> np.ndarray:
    """similarity(s, c) + bonus(s, c) per candidate; the bonus is 0 where Q's pair memory knows nothing of its plan here.

    A positive (or unverified) case gains when its plan has succeeded on tasks near this one, and loses when it failed,
    and gains or loses what its plan's model predicts for this task (the leading VALUED candidates); a negative case is
    a warning, worth more when its plan fails here and less when it works here."""
    task = _unit(np.asarray(task_emb).reshape(1, -1))
    cases = _unit(case_embs)
    similarity = (cases @ task[0]).astype(np.float64)
    if plan_embs is None or not len(model.pairs) or not len(cases):
        return similarity
    base = float(model.base_rate)
    shrunk, evidence = model.pairs.estimate(
        np.repeat(task, len(cases), axis=0), np.asarray(plan_embs, np.float32), base, task_width=ranking.task_width
    )
    total = shrunk * (evidence + model.pairs.prior) - model.pairs.prior * base  # the kernel-weighted reward sum
    mean = (total + ranking.bonus_prior * base) / (evidence + ranking.bonus_prior)
    negative = np.array([float(s.get("negative", 0.0)) for s in case_stats]) > 0
    earned = ranking.bonus_weight * (mean - base)
    if ranking.plan_fit_weight:
        earned = earned + ranking.plan_fit_weight * model.pairs.plan_fit(task[0], np.asarray(plan_embs, np.float32), ranking.plan_fit_ridge)
    scores = similarity + earned * np.where(negative, -ranking.warning_share, 1.0)
    if ranking.plan_value_weight:
        # Guidance only (a failure's worth as a warning is the kernel's to say), and only for the leading candidates:
        # each distinct plan costs a solve, and a case far down the list would not reach the top k anyway.
        lead = [int(i) for i in np.argsort(-scores, kind="stable") if not negative[i]][:VALUED]
        value = model.pairs.plan_value(
            task[0], np.asarray(plan_embs, np.float32)[lead], base, ranking.plan_value_prior, ranking.plan_value_noise
        )
        scores[lead] += ranking.plan_value_weight * value
    return scores
