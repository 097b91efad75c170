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
    outcome: str = Field(description="'positive', 'negative', or 'unverified' (no rated episode yet: never a success).")
    reward_kind: str = Field(default="verified", description="Where the reward came from: verified, self-assessed or unrated.")
    summary: str = Field(description="A short account of the trajectory: tools used, key findings, what went wrong.")
    tools: list[str] = Field(description="Tools the episode used.")
    score: float = Field(description="Similarity, or the learned Q value, the case was ranked by.")
    similarity: float = Field(description="Cosine similarity of this case's task to yours (-1..1).")
    times_shown: int
    success_rate_when_shown: float


class Retrieved(BaseModel):
    """retrieve_cases's result: successes to imitate, failures to avoid."""

    policy: str = Field(description="The policy used: 'q' falls back to 'similarity' until it has learned enough.")
    successes: list[CaseView]
    failures: list[CaseView]
    omitted: int = Field(
        default=0,
        description="Lower-ranked cases left out to keep this reply within MEMENTO_MEMORY_MAX_RETRIEVED_CHARS; ask for a smaller k.",
    )
    unverified: list[CaseView] = Field(default_factory=list, description="Cases whose outcome is not verified yet: not successes.")
    q_version: int | None = Field(default=None, description="The version of the learned policy that ranked the cases (q only).")


class Saved(BaseModel):
    """save_case's result: the ids to cite in give_feedback."""

    case_id: str
    run_id: str
    created: bool
    near_duplicate_of: str | None


def retrieved(found: Retrieval) -> Retrieved:
    """A retrieval as the tool returns it."""
    return Retrieved(
        policy=found.policy,
        successes=[_view(s) for s in found.positive],
        failures=[_view(s) for s in found.negative],
        omitted=found.omitted,
        unverified=[_view(s) for s in found.unverified],
        q_version=found.q_version if isinstance(found.q_version, int) else None,
    )


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
        reward_kind=case.reward_kind,
        summary=case.summary,
        tools=case.tools,
        score=round(scored.score, 4),
        similarity=round(scored.similarity, 4),
        times_shown=case.uses,
        success_rate_when_shown=round(case.success_rate, 3),
    )
