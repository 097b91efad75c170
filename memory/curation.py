"""Keeping the bank small and useful: drop near-duplicates, then cap its size by utility.

The paper found a small, high-quality memory retrieving K=4 works best. A case's
utility grows with how often it helped when shown (smoothed success rate times
log of uses), its own reward, and recency; among near-duplicate tasks only the
most useful survives.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cases import Case

__all__ = ["PruneReport", "prune", "utility"]

_RECENCY_DAYS = 90.0


def utility(case: Case, now: float | None = None) -> float:
    now = now or time.time()
    age_days = max(0.0, (now - case.updated) / 86_400)
    helped = case.success_rate * (1.0 + math.log1p(case.uses))
    return helped + 0.5 * case.reward + 0.2 * math.exp(-age_days / _RECENCY_DAYS)


@dataclass
class PruneReport:
    before: int
    duplicates: list[str] = field(default_factory=list)
    over_cap: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def after(self) -> int:
        return self.before - len(self.duplicates) - len(self.over_cap)

    def to_json(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "near_duplicates_removed": len(self.duplicates),
            "removed_over_cap": len(self.over_cap),
            "dry_run": self.dry_run,
        }


def prune(bank: Any, max_cases: int, duplicate_threshold: float, dry_run: bool = False) -> PruneReport:
    pairs = list(bank.iter_cases(with_embeddings=True))
    report = PruneReport(before=len(pairs), dry_run=dry_run)
    if not pairs:
        return report
    now = time.time()
    order = sorted(range(len(pairs)), key=lambda i: utility(pairs[i][0], now), reverse=True)
    vectors = np.stack([pairs[i][1] for i in order])
    kept: list[int] = []
    kept_vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    for rank, index in enumerate(order):
        if len(kept_vectors) and float(np.max(kept_vectors @ vectors[rank])) >= duplicate_threshold:
            report.duplicates.append(pairs[index][0].id)
            continue
        kept.append(index)
        kept_vectors = np.vstack([kept_vectors, vectors[rank : rank + 1]])
    report.over_cap = [pairs[i][0].id for i in kept[max_cases:]]
    if not dry_run:
        bank.delete(report.duplicates + report.over_cap)
    return report
