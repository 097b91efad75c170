"""How retrieval ranks candidates with Q: cosine similarity plus a learned correction that evidence must earn.

The correction is how plans like a case's fared on tasks like this one (Q's (task, plan) memory), shrunk
towards the base rate by the evidence behind it, so that with no evidence the ranking is exactly similarity's.
It only reads a trained `QFunction`; learning and probabilities for evaluation (`QFunction.score`) stay there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["BONUS_PRIOR", "BONUS_WEIGHT", "TASK_WIDTH", "WARNING_SHARE", "ranking_scores"]

# Why these values: bench/continual.py (10 seeds at these; other values on 1-2 seeds and offline), bench/README.md.
BONUS_WEIGHT = 0.3  # cosine points per unit of (shrunk mean reward - base rate)
BONUS_PRIOR = 0.1  # pseudo-evidence (in kernel weight) at the base rate: thin evidence earns little
TASK_WIDTH = 0.1  # task kernel exp((cos - 1) / width): narrow, so other task types (median cos 0.16) barely count
WARNING_SHARE = 0.5  # a failure is shown as a plan to avoid: it earns (the other way round) half as much


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def ranking_scores(
    model: Any, task_emb: np.ndarray, case_embs: np.ndarray, case_stats: Sequence[Mapping[str, float]], plan_embs: np.ndarray | None
) -> np.ndarray:
    """similarity(s, c) + bonus(s, c) per candidate; the bonus is 0 where Q's pair memory knows nothing of its plan here.

    A positive (or unverified) case gains when its plan has succeeded on tasks near this one, and loses when it failed;
    a negative case is a warning, worth more when its plan fails here and less when it works here."""
    task = _unit(np.asarray(task_emb).reshape(1, -1))
    cases = _unit(case_embs)
    similarity = (cases @ task[0]).astype(np.float64)
    if plan_embs is None or not len(model.pairs) or not len(cases):
        return similarity
    base = float(model.base_rate)
    shrunk, evidence = model.pairs.estimate(
        np.repeat(task, len(cases), axis=0), np.asarray(plan_embs, np.float32), base, task_width=TASK_WIDTH
    )
    total = shrunk * (evidence + model.pairs.prior) - model.pairs.prior * base  # the kernel-weighted reward sum
    mean = (total + BONUS_PRIOR * base) / (evidence + BONUS_PRIOR)
    negative = np.array([float(s.get("negative", 0.0)) for s in case_stats]) > 0
    bonus = BONUS_WEIGHT * (mean - base) * np.where(negative, -WARNING_SHARE, 1.0)
    return similarity + bonus
