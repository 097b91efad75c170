"""What the case bank stores: cases (a past task, its plan and how it went) and transitions.

A case's id is derived from its normalised task, so writing the same task again
finds the same case. Chroma metadata holds only scalars, so structured fields
(the plan's steps, tools used) travel as JSON strings in the store and as lists here.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["KINDS", "Case", "Transition", "case_id_for", "normalise_task", "outcome_for"]

SUCCESS = 0.5  # a reward at or above this counts as a success
# Where a reward came from: a truth, grader or user ("verified"); the judge checking the answer against the
# sources the run read ("self-assessed", weighted below verified); nobody yet ("unrated", no reward at all).
KINDS = ("verified", "self-assessed", "unrated")
RECENT_RUNS = 50  # runs per case whose rewards are kept (beyond them, late feedback cannot correct the mean)


def normalise_task(task: str) -> str:
    return re.sub(r"\s+", " ", task).strip().lower()


def case_id_for(task: str) -> str:
    return "case-" + hashlib.sha256(normalise_task(task).encode()).hexdigest()[:20]


def outcome_for(reward: float) -> str:
    return "positive" if reward >= SUCCESS else "negative"


@dataclass
class Case:
    task: str
    plan: list[str] = field(default_factory=list)  # the planner's steps, in order
    answer: str = ""
    reward: float = 0.0  # the reward of the run whose plan the case holds, 0..1 (0 while unrated)
    outcome: str = ""  # "positive", "negative" or "unverified"; derived from the credit unless given
    summary: str = ""  # a short trajectory summary: tools used, key findings
    tools: list[str] = field(default_factory=list)
    source: str = ""  # dataset or origin, e.g. "gaia", "user", "memory.jsonl"
    attempts: int = 1  # how often this task was recorded
    mean_reward: float = 0.0
    uses: int = 0  # how often this case was shown to the planner
    successes: int = 0  # how many of those episodes succeeded
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    run_id: str = ""  # the latest run that recorded this task (feedback by run id finds it)
    plan_run_id: str = ""  # the run whose plan, answer and reward the case holds
    run_rewards: dict[str, float] = field(default_factory=dict)  # reward per recent run, so feedback can correct the mean
    near_duplicate_of: str = ""  # a different task this one nearly repeats, found when it was stored
    reward_kind: str = "verified"  # where the plan run's reward came from: one of KINDS
    follows: int = 0  # rated episodes (of this or other tasks) whose plan followed this case's plan
    credit_sum: float = -1.0  # weighted rewards of the plan's own run and of the episodes that followed it
    credit_weight: float = 0.0  # their total weight (verified 1, self-assessed less, unrated 0)
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or case_id_for(self.task)
        if self.credit_sum < 0:  # a case from before credit existed (or a new one): its own reward is its record
            rated = self.reward_kind != "unrated"
            self.credit_sum, self.credit_weight = (self.reward, 1.0) if rated else (0.0, 0.0)
        self.outcome = self.outcome or self.derived_outcome()
        if not self.mean_reward and self.attempts == 1:
            self.mean_reward = self.reward

    @property
    def credit(self) -> float | None:
        """Mean reward of the plan over its own run and the episodes that followed it (None: no rated evidence)."""
        return self.credit_sum / self.credit_weight if self.credit_weight > 1e-9 else None

    def derived_outcome(self) -> str:
        """Positive or negative by the plan's mean reward; unverified while no rated episode speaks for it."""
        credit = self.credit
        return "unverified" if credit is None else outcome_for(credit)

    def add_credit(self, reward: float, weight: float) -> None:
        """One more (or, with a negative weight, one less) rated episode that followed this plan."""
        self.credit_sum = max(0.0, self.credit_sum + weight * reward)
        self.credit_weight = max(0.0, self.credit_weight + weight)
        self.outcome = self.derived_outcome()

    @property
    def success_rate(self) -> float:
        """Smoothed share of episodes that succeeded when this case was shown (prior 1/2)."""
        return (self.successes + 1) / (self.uses + 2)

    def stats(self) -> dict[str, float]:
        """What the Q-function may see of a case besides its embedding."""
        return {
            "reward": self.reward,
            "positive": 1.0 if self.outcome == "positive" else 0.0,
            "negative": 1.0 if self.outcome == "negative" else 0.0,
            "uses": float(self.uses),
            "successes": float(self.successes),
            "plan_steps": float(len(self.plan)),
            "attempts": float(self.attempts),
            "credit": 0.5 if self.credit is None else float(self.credit),
            "credit_weight": float(self.credit_weight),
        }

    def note_run(self, run_id: str, reward: float) -> None:
        """Remember a run's reward (the most recent RECENT_RUNS of them), for feedback that corrects it later."""
        self.run_rewards.pop(run_id, None)
        self.run_rewards[run_id] = reward
        for old in list(self.run_rewards)[:-RECENT_RUNS]:
            del self.run_rewards[old]

    def plan_text(self) -> str:
        return "\n".join(f"{i}. {step}" for i, step in enumerate(self.plan, start=1))

    def to_metadata(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("task")
        data.pop("id")
        data["plan"] = json.dumps(self.plan, ensure_ascii=False)
        data["tools"] = json.dumps(self.tools, ensure_ascii=False)
        data["run_rewards"] = json.dumps(self.run_rewards)
        return data

    @classmethod
    def from_store(cls, case_id: str, task: str, metadata: dict[str, Any]) -> Case:
        data = dict(metadata)
        data["plan"] = json.loads(data.get("plan") or "[]")
        data["tools"] = json.loads(data.get("tools") or "[]")
        data["run_rewards"] = json.loads(data.get("run_rewards") or "{}")
        known = set(cls.__dataclass_fields__)
        return cls(task=task, id=case_id, **{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Transition:
    """One (task, case shown, reward) observation for training Q."""

    run_id: str
    task: str
    case_id: str
    reward: float
    created: float = field(default_factory=time.time)
    followed: bool = True  # the episode's plan followed this case (else the case was only shown)
    weight: float = 1.0  # how much Q learns from it: the reward kind's weight, less when not followed
    kind: str = "verified"  # the reward's kind (KINDS); an unrated transition waits for feedback

    @property
    def id(self) -> str:
        return f"{self.run_id}:{self.case_id}"

    def to_metadata(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "case_id": self.case_id, "reward": self.reward, "created": self.created,
            "followed": self.followed, "weight": self.weight, "kind": self.kind,
        }  # fmt: skip

    @classmethod
    def from_metadata(cls, task: str, meta: dict[str, Any]) -> Transition:
        return cls(
            meta["run_id"], task, meta["case_id"], float(meta["reward"]), float(meta["created"]),
            bool(meta.get("followed", True)), float(meta.get("weight", 1.0)), str(meta.get("kind", "verified")),
        )  # fmt: skip
