"""Credit assignment: which shown cases an episode's plan followed, and how much its reward weighs.

Only followed cases take the episode's reward as evidence about their plan; a case that was merely shown
learns nothing (or, with MEMENTO_MEMORY_UNFOLLOWED_WEIGHT, a little). Pure functions over vectors and
settings: reading and writing cases is the case bank's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .cases import KINDS
from .errors import CaseMemoryError
from .settings import MemorySettings

__all__ = ["check_kind", "followed_cases", "kind_weight", "plan_similarity"]


def check_kind(reward: float | None, kind: str) -> str:
    """The reward's kind, checked against the reward: None means unrated, and unrated means None."""
    if kind not in KINDS:
        raise CaseMemoryError(f"reward_kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    if reward is None:
        return "unrated"
    if kind == "unrated":
        raise CaseMemoryError("An unrated run has no reward: pass reward=None (or say which kind the reward is).")
    if not 0.0 <= reward <= 1.0:
        raise CaseMemoryError(f"reward must be between 0 and 1, got {reward}.")
    return kind


def kind_weight(kind: str, settings: MemorySettings) -> float:
    """How much a reward of this kind counts: verified 1, self-assessed the setting, unrated nothing."""
    return {"verified": 1.0, "self-assessed": settings.memory_self_assessed_weight}.get(kind, 0.0)


def plan_similarity(plan: np.ndarray | None, other: np.ndarray | None) -> float:
    """Cosine of two plan embeddings; 0 when either plan is empty (an empty plan follows nothing)."""
    if plan is None or other is None:
        return 0.0
    norm = float(np.linalg.norm(plan) * np.linalg.norm(other))
    return float(np.dot(plan, other) / norm) if norm > 1e-12 else 0.0


def followed_cases(
    shown: Sequence[str],
    said: Sequence[str] | None,
    plan: np.ndarray | None,
    shown_plans: Mapping[str, np.ndarray],
    threshold: float,
) -> list[str]:
    """The shown cases the plan followed: those the planner named, else those whose plan is as close as `threshold`.

    `said` None means the planner did not say; [] means it followed none. Names of cases that were not
    shown are ignored: credit goes only to what the planner saw.
    """
    if said is not None:
        named = set(said)
        return [c for c in shown if c in named]
    return [c for c in shown if plan_similarity(plan, shown_plans.get(c)) >= threshold]
