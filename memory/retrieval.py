"""What a read and a write of the case bank give back: retrieved cases grouped by outcome, and what was stored.

Plain data and the one rule of how chosen cases are grouped and bounded in size; choosing them is the
case bank's and the policy's job, and nothing here touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cases import Case
from .limits import CaseLimits, case_chars

__all__ = ["Recorded", "Retrieval", "ScoredCase", "split_retrieved"]


@dataclass
class ScoredCase:
    """A retrieved case with the score its policy ranked it by."""

    case: Case
    score: float  # what the policy ranked by: cosine similarity, or Q(s, c)
    similarity: float


@dataclass
class Retrieval:
    """What `CaseBank.retrieve` found for a task: successes to imitate, failures to avoid, and unrated cases.

    `unverified` cases have no rated episode behind them yet: show them as "outcome not verified", never as
    a success. `temperature` is the softmax temperature the cases were drawn with (None: the top k, greedy);
    `q_version` the Q-policy version that ranked them (None when similarity did).
    """

    task: str
    policy: str  # the policy actually used ("q" falls back to "similarity" while Q is untrained)
    positive: list[ScoredCase] = field(default_factory=list)
    negative: list[ScoredCase] = field(default_factory=list)
    omitted: int = 0  # lower-ranked cases left out because MEMENTO_MEMORY_MAX_RETRIEVED_CHARS was reached
    unverified: list[ScoredCase] = field(default_factory=list)
    temperature: float | None = None
    q_version: int | str | None = None

    @property
    def cases(self) -> list[ScoredCase]:
        """Every retrieved case, best score first."""
        return sorted(self.positive + self.negative + self.unverified, key=lambda s: s.score, reverse=True)

    @property
    def ids(self) -> list[str]:
        """The ids of `cases`, in the same order (what an episode records as shown)."""
        return [s.case.id for s in self.cases]


@dataclass
class Recorded:
    """What `CaseBank.record_episode` stored."""

    run_id: str
    case_id: str
    created: bool  # False when the task already had a case, which was updated
    plan_replaced: bool
    near_duplicate_of: str | None
    transitions: int
    q_updated: bool
    followed: list[str] = field(default_factory=list)  # the shown cases credited as followed by the plan
    reward_kind: str = "verified"


def split_retrieved(result: Retrieval, cases: list[Case], scores: np.ndarray, similarity: np.ndarray, limits: CaseLimits) -> Retrieval:
    """Fill `result` with the chosen cases by outcome, in rank order, the text they carry bounded by `limits`."""
    total = 0
    for case, score, near in zip(cases, scores, similarity):
        case = limits.clipped(case)
        total += case_chars(case)
        if total > limits.retrieved_chars and result.cases:
            result.omitted += 1  # the best case always comes; after it, stop at the budget
            continue
        scored = ScoredCase(case, float(score), float(near))
        group = {"positive": result.positive, "unverified": result.unverified}.get(case.outcome, result.negative)
        group.append(scored)
    return result
