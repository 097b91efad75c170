"""What an episode teaches the case memory: the case record, the cases its plans followed, and how sure its reward is.

    verified       a reward from a known truth (the judge with --truth) or from a person (memento feedback)
    self-assessed  the judge's check of the answer against what the run's tools found (--self-assess)
    unrated        no reward: the case is stored, and later planners read it as "outcome not verified"

A run given a truth whose verdict could not be reached is held for `memento feedback` (CaseHeld), as before:
nothing unrewarded is learned as if rewarded. This module reads no memory and calls no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from memento.core.errors import CaseMemoryError

from .events import CaseHeld, CaseWritten, EventStream

if TYPE_CHECKING:
    from memento.memory import CaseBank

    from .judge import Judgement

__all__ = ["RewardKind", "case_summary", "followed", "reward_kind", "sampling", "store_kwargs", "write_case"]

RewardKind = Literal["verified", "self-assessed", "unrated"]


def reward_kind(judgement: Judgement | None) -> RewardKind | None:
    """The kind of the run's reward: verified from a truth, self-assessed against its sources, else unrated.

    None: a truth was given but no verdict was reached (the judge failed): the case is held for feedback.
    """
    if judgement is None:
        return "unrated"
    if judgement.basis == "sources":
        return "unrated" if judgement.reward is None else "self-assessed"
    return None if judgement.reward is None else "verified"


def sampling(explore: bool, temperature: float | None) -> dict[str, Any]:
    """`CaseBank.retrieve`'s sampling arguments: none when greedy (as an older bank expects), else explore at `temperature`."""
    if not explore:
        return {}
    return {"explore": True} | ({"temperature": temperature} if temperature is not None else {})


def followed(numbers: Sequence[int], numbered: Sequence[str]) -> list[str]:
    """The case ids behind submit_plan's `follows` numbers (1 = the first case shown), in order, once each."""
    return list(dict.fromkeys(numbered[n - 1] for n in numbers if 1 <= n <= len(numbered)))


def store_kwargs(record: dict[str, Any], follows: list[str] | None, kind: RewardKind) -> dict[str, Any]:
    """`CaseBank.record_episode`'s keyword arguments beyond the reward; a default is left out, as an older bank expects."""
    extra: dict[str, Any] = {}
    if follows is not None:  # None: the planner did not say, and the memory decides by plan similarity
        extra["followed_case_ids"] = follows
    if kind != "verified":
        extra["reward_kind"] = kind
    return record | extra


def write_case(
    bank: CaseBank, events: EventStream, record: dict[str, Any], judgement: Judgement | None, follows: list[str] | None
) -> tuple[str | None, str]:
    """Store the run's case (`record`: record_episode's arguments less the reward), or hold it for feedback.

    Returns the case id (None: held or refused) and a problem to report ("" if none).
    """
    run_id = str(record["run_id"])
    kind = reward_kind(judgement)
    if kind is None:  # a truth without a verdict: learned once `memento feedback` gives a reward; the trace keeps it
        events.emit(CaseHeld(run_id=run_id, record=store_kwargs(record, follows, "verified")))
        return None, ""
    try:
        recorded = bank.record_episode(reward=judgement.reward if judgement else None, **store_kwargs(record, follows, kind))
    except CaseMemoryError as exc:
        return None, f"not written to memory: {exc}"
    events.emit(CaseWritten(run_id=run_id, case_id=recorded.case_id))
    return recorded.case_id, ""


def case_summary(findings: Sequence[tuple[str, str]], tools: Sequence[str], judgement: Judgement | None, limit: int = 1500) -> str:
    """A short trajectory summary for the case: subtasks and the start of their results, and why a failure failed."""
    lines = [f"{subtask} → {' '.join(result.split())[:200]}" for subtask, result in findings]
    if tools:
        lines.append("tools: " + ", ".join(tools))
    if judgement is not None and judgement.reward is not None and judgement.reward < 0.5 and judgement.reason:
        # Kept first, so the cut below never loses it: the planner reads it when this case is shown as a failure.
        who = "judge" if judgement.basis == "truth" else "self-assessed against its sources"
        lines.insert(0, f"why it failed ({who}): {' '.join(judgement.reason.split())[:300]}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"
