"""A reward that arrives after a run: stored in its trace, then learned by the case memory.

A run held for a reward (a truth without a verdict) is learned now; a run stored unrated or
self-assessed takes the reward in place of none or of its own (`CaseBank.feedback`): a person's is verified.
Shared by `memento feedback` and the web UI's feedback buttons, so both do the same thing.
"""

from __future__ import annotations

from collections.abc import Callable

from memento.core.errors import CaseMemoryError, CaseNotFound
from memento.memory import CaseBank

from .traces import RunStore

__all__ = ["apply_feedback"]


def apply_feedback(store: RunStore, bank: CaseBank | Callable[[], CaseBank], run_id: str, reward: float) -> list[str]:
    """Set the run's reward, then teach the memory; what happened, as lines for a person.

    `bank` may be a function opening one: the trace keeps the reward even if the memory cannot open.
    """
    run_id = store.resolve(run_id)
    store.set_reward(run_id, reward)
    said = [f"{run_id}: reward {reward:g} stored in the run trace."]
    if callable(bank):
        with bank() as opened:
            return said + _learn(store, opened, run_id, reward)
    return said + _learn(store, bank, run_id, reward)


def _learn(store: RunStore, bank: CaseBank, run_id: str, reward: float) -> list[str]:
    pending = store.pending_case(run_id)
    try:
        if pending is not None:  # the run was waiting for this reward before the memory learned from it
            note = ""
            try:
                recorded = bank.record_episode(reward=reward, **pending)
            except CaseNotFound:  # cases it was shown were pruned since: learn the run itself, without them
                without: dict[str, list[str]] = {name: [] for name in ("shown_case_ids", "followed_case_ids") if name in pending}
                recorded = bank.record_episode(reward=reward, **(pending | without))
                note = " (the cases it was shown are no longer in memory)"
            store.pending_case_learned(run_id, recorded.case_id)
            return [f"Case memory learned the run: case {recorded.case_id}, {recorded.transitions} transition(s){note}."]
        changed = bank.feedback(run_id, reward)
    except CaseNotFound:
        return ["The case memory was not changed: it holds no case from this run (was it run with --no-learn?)."]
    except CaseMemoryError as exc:
        raise CaseMemoryError(f"The run trace has the reward, but the case memory could not take it: {exc}") from exc
    return [f"Case memory updated: {len(changed['cases'])} case(s) and {changed['transitions']} transition(s)."]
