"""Late rewards: `memento feedback` (and give_feedback) rating a run or a case after it was stored.

A verified reward overrides a self-assessed one or an unrated run; the run's transitions, the shown cases'
success counts, the followed cases' records and the task's own case all follow. Works on an open
`CaseBank` through its store; it never changes what an episode recorded besides the reward.
"""

from __future__ import annotations

import time
from typing import Any

from .cases import SUCCESS, Case, Transition
from .credit import kind_weight
from .errors import CaseMemoryError, CaseNotFound

# The case bank calls in here with itself; typed loosely so that this module does not import it back.
CaseBank = Any

__all__ = ["feedback"]


def feedback(bank: CaseBank, case_or_run_id: str, reward: float) -> dict[str, Any]:
    """Set a verified reward for a run (`run-…`, any run id) or a case (`case-…`); see `CaseBank.feedback`."""
    if not 0.0 <= reward <= 1.0:
        raise CaseMemoryError(f"reward must be between 0 and 1, got {reward}.")
    with bank.store.writing():
        if case_or_run_id.startswith("case-"):
            case = bank.get(case_or_run_id)
            run = case.plan_run_id or (case.run_id if case.attempts == 1 else "")
            transitions = _rescore_transitions(bank, run, reward) if run else 0
            _correct_case(bank, bank.get(case.id), run, reward, holds_plan=True)
            return {"cases": [case.id], "transitions": transitions}
        run = case_or_run_id
        where = {"$or": [{"run_id": run}, {"plan_run_id": run}]}
        owners = bank.store.cases.get(where=where, include=[])["ids"]
        transitions = _rescore_transitions(bank, run, reward)
        if not transitions and not owners:
            raise CaseNotFound(f"No run or case with id {run!r}.")
        for case in bank._read_cases(owners):  # read after the transitions moved: a run may have followed its own case
            # Cases stored before plan_run_id existed: with one attempt, that run's plan is the stored one.
            holds_plan = case.plan_run_id == run if case.plan_run_id else case.attempts == 1
            _correct_case(bank, case, run, reward, holds_plan)
        return {"cases": list(owners), "transitions": transitions}


def _rescore_transitions(bank: CaseBank, run_id: str, reward: float) -> int:
    """Give a run's transitions a verified reward; shown cases' counts and followed cases' records follow."""
    got = bank.store.transitions.get(where={"run_id": run_id}, include=["metadatas"])
    metadatas = []
    for meta in got["metadatas"]:
        old = Transition.from_metadata("", meta)
        if old.kind == "unrated":  # shown, but not counted until now
            bank._count_uses([old.case_id], reward)
        elif (old.reward >= SUCCESS) != (reward >= SUCCESS):
            bank._count_uses([old.case_id], reward, delta_uses=0, delta_success=1 if reward >= SUCCESS else -1)
        weight = 1.0 if old.followed else bank.settings.memory_unfollowed_weight
        if old.followed:
            _move_credit(bank, old.case_id, old.reward, old.weight if old.kind != "unrated" else 0.0, reward, old.kind == "unrated")
        metadatas.append(old.to_metadata() | {"reward": reward, "kind": "verified", "weight": weight})
    if got["ids"]:
        bank.store.transitions.update(ids=got["ids"], metadatas=metadatas)
    return len(got["ids"])


def _move_credit(bank: CaseBank, case_id: str, old_reward: float, old_weight: float, reward: float, newly_rated: bool) -> None:
    """A followed case's record: take the old weighted reward out, put the verified one in."""
    for case in bank._read_cases([case_id]):
        case.add_credit(old_reward, -old_weight)
        case.add_credit(reward, 1.0)
        case.follows += int(newly_rated)
        _save(bank, case)


def _correct_case(bank: CaseBank, case: Case, run_id: str, reward: float, holds_plan: bool) -> None:
    old = case.run_rewards.get(run_id) if run_id else None
    if old is not None:
        case.mean_reward = min(1.0, max(0.0, case.mean_reward + (reward - old) / max(case.attempts, 1)))
    elif case.attempts == 1:
        case.mean_reward = reward
    else:  # an unrated run: its reward joins the mean now
        case.mean_reward = min(1.0, max(0.0, case.mean_reward + (reward - case.mean_reward) / case.attempts))
    if run_id:
        case.note_run(run_id, reward)
    if holds_plan:
        case.add_credit(case.reward, -kind_weight(case.reward_kind, bank.settings))
        case.add_credit(reward, 1.0)
        case.reward, case.reward_kind = reward, "verified"
    _save(bank, case)


def _save(bank: CaseBank, case: Case) -> None:
    case.updated = time.time()  # other processes' mirrors pick changes up by this stamp
    bank.store.cases.update(ids=[case.id], metadatas=[case.to_metadata()])
    bank.mirror.note([case])
