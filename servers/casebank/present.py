"""What the casebank tools return: past cases as a model reads them, and what a save stored.

The SDK serialises these models as the reply's text and structured content; the
field names are what clients read, so they stay stable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from memento.memory import Recorded, Retrieval, ScoredCase

__all__ = ["CaseView", "Retrieved", "Saved", "retrieved", "saved"]


class CaseView(BaseModel):
    """A past case: the task, the plan followed, the answer and how it went."""

    id: str
    task: str
    plan: list[str]
    answer: str
    reward: float
    outcome: str
    score: float = Field(description="Similarity, or the learned Q value, the case was ranked by.")
    times_shown: int
    success_rate_when_shown: float


class Retrieved(BaseModel):
    """retrieve_cases's result: successes to imitate, failures to avoid."""

    policy: str
    successes: list[CaseView]
    failures: list[CaseView]


class Saved(BaseModel):
    """save_case's result: the ids to cite in give_feedback."""

    case_id: str
    run_id: str
    created: bool
    near_duplicate_of: str | None


def retrieved(found: Retrieval) -> Retrieved:
    """A retrieval as the tool returns it."""
    return Retrieved(policy=found.policy, successes=[_view(s) for s in found.positive], failures=[_view(s) for s in found.negative])


def saved(done: Recorded) -> Saved:
    """A recorded episode as the tool returns it."""
    return Saved(case_id=done.case_id, run_id=done.run_id, created=done.created, near_duplicate_of=done.near_duplicate_of)


def _view(scored: ScoredCase) -> CaseView:
    case = scored.case
    return CaseView(
        id=case.id,
        task=case.task,
        plan=case.plan,
        answer=case.answer,
        reward=case.reward,
        outcome=case.outcome,
        score=round(scored.score, 4),
        times_shown=case.uses,
        success_rate_when_shown=round(case.success_rate, 3),
    )
