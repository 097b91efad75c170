"""Scoring an answer against a known truth: exact match, token F1, and an LLM judge; and, with no truth, a self-assessment.

Exact match and F1 follow the SQuAD normalisation (lower case, no punctuation,
no articles, single spaces), taking the best over the truth's alternatives
(joined by `<|answer_split|>` in the reference data, or given as a list). The
LLM judge decides semantic matches the string metrics miss; when it fails or
times out its verdict is `unknown`, and so is the reward: never a silent 0.
Without a truth, `assess_answer` has the judge check the answer against what the
run's tools found (basis `sources`): a weaker reward, recorded as self-assessed.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from memento.core.errors import ModelFailed

from .llm import Message, Model, ToolSpec, Usage
from .prompting import prompt
from .settings import LOCAL_PREFIX

__all__ = [
    "ANSWER_SPLIT",
    "Judgement",
    "assess_answer",
    "exact_match",
    "judge_answer",
    "normalise_answer",
    "self_grading",
    "split_truth",
    "token_f1",
]

ANSWER_SPLIT = "<|answer_split|>"
Verdict = Literal["correct", "incorrect", "unknown"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)

VERDICT_TOOL = ToolSpec(
    name="submit_verdict",
    description="Give the verdict: is the predicted answer the same as a reference answer?",
    input_schema={
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["correct", "incorrect"]},
            "reason": {"type": "string", "description": "One short sentence."},
        },
        "required": ["verdict"],
    },
)


def self_grading(planner_model: str, judge_model: str) -> str | None:
    """The warning to give when the judge is the planner's own model (it would grade its own answers), else None."""
    judge = judge_model or planner_model
    if judge != planner_model:
        return None
    return (
        f"the judge is the planner's model ({planner_model}), so it grades its own answers; "
        "set MEMENTO_JUDGE_MODEL to another model for a score others can trust"
    )


def split_truth(truth: str | Sequence[str]) -> list[str]:
    """The acceptable answers: a list as given, or a string split on `<|answer_split|>`."""
    items = [truth] if isinstance(truth, str) else list(truth)
    return [alt.strip() for item in items for alt in item.split(ANSWER_SPLIT) if alt.strip()]


def normalise_answer(text: str) -> str:
    """SQuAD normalisation: lower case, punctuation and articles removed, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(answer: str, truth: str | Sequence[str]) -> bool:
    """Whether the normalised answer equals any normalised alternative."""
    mine = normalise_answer(answer)
    return any(mine == normalise_answer(alt) for alt in split_truth(truth))


def token_f1(answer: str, truth: str | Sequence[str]) -> float:
    """The best token F1 of the answer against the alternatives (0 when either side is empty)."""
    mine = normalise_answer(answer).split()
    best = 0.0
    for alt in split_truth(truth):
        theirs = normalise_answer(alt).split()
        common = sum((Counter(mine) & Counter(theirs)).values())
        if common:
            precision, recall = common / len(mine), common / len(theirs)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@dataclass(kw_only=True)
class Judgement:
    """How an answer scored; `reward` is None when no verdict could be reached."""

    reward: float | None
    exact: bool
    f1: float
    llm: Verdict | None  # None: the LLM judge was not needed (exact match) or not asked
    reason: str = ""
    usage: Usage | None = None
    basis: Literal["truth", "sources"] = "truth"  # sources: a self-assessment against what the run read, no truth known

    def to_json(self) -> dict[str, Any]:
        scored = {"reward": self.reward, "exact": self.exact, "f1": round(self.f1, 4), "llm": self.llm, "reason": self.reason}
        return scored | {"basis": self.basis}


async def judge_answer(
    question: str,
    answer: str,
    truth: str | Sequence[str],
    model: Model | None,
    timeout_s: float = 120.0,
) -> Judgement:
    """Score `answer`: exact match wins at once; otherwise the LLM judge decides (if there is one).

    Within a run, `model` is metered (metered.MeteredModel), so the judge's call is counted like any other.
    """
    exact, f1 = exact_match(answer, truth), token_f1(answer, truth)
    if exact:
        return Judgement(reward=1.0, exact=True, f1=f1, llm=None)
    if not answer.strip():
        return Judgement(reward=0.0, exact=False, f1=0.0, llm=None, reason="no answer")
    if model is None:
        return Judgement(reward=0.0, exact=False, f1=f1, llm=None, reason="no judge model; exact match only")
    verdict, reason, usage = await _ask_judge(question, answer, split_truth(truth), model, timeout_s)
    reward = {"correct": 1.0, "incorrect": 0.0}.get(verdict)
    return Judgement(reward=reward, exact=False, f1=f1, llm=verdict, reason=reason, usage=usage)


def _judge_prompt(model: Model) -> str:
    # A small local judge read "adds a wrong claim" as "adds any detail" and failed right answers given as a
    # sentence (the offline demo): it gets the plainer question, does the answer name what the reference names.
    return "judge_local" if model.name.startswith(LOCAL_PREFIX) else "judge"


async def _ask_judge(question: str, answer: str, truths: list[str], model: Model, timeout_s: float) -> tuple[Verdict, str, Usage | None]:
    case = json.dumps({"question": question, "reference_answers": truths, "predicted_answer": answer}, ensure_ascii=False, indent=1)
    system = prompt(_judge_prompt(model))
    return await _ask_verdict(model, system, case, VERDICT_TOOL, ("correct", "incorrect"), "the judge gave no verdict", timeout_s)


async def _ask_verdict(
    model: Model, system: str, case: str, tool: ToolSpec, words: tuple[str, str], missing: str, timeout_s: float
) -> tuple[Verdict, str, Usage | None]:
    """`tool`'s verdict on `case`: its first word means correct, its second incorrect; "unknown" when the call
    fails (`usage` None) or no call says either word (`missing` is then the reason)."""
    try:
        with anyio.fail_after(timeout_s):
            reply = await model.generate(system, [Message.user(case)], [tool], tool_choice="any", max_tokens=512)
    except (ModelFailed, TimeoutError) as exc:
        return "unknown", f"the judge failed: {str(exc) or f'no answer within {timeout_s:g} s'}", None
    for call in reply.tool_calls:
        said = str(call.arguments.get("verdict", "")).lower()
        if call.name == tool.name and said in words:
            verdict: Verdict = "correct" if said == words[0] else "incorrect"
            return verdict, str(call.arguments.get("reason", "")), reply.usage
    return "unknown", missing, reply.usage


ASSESS_TOOL = ToolSpec(
    name="submit_assessment",
    description="Say whether the sources' findings support the answer to the question.",
    input_schema={
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["supported", "unsupported"]},
            "reason": {"type": "string", "description": "One short sentence naming what supports or contradicts it."},
        },
        "required": ["verdict"],
    },
)
EVIDENCE_CHARS = 12_000  # what the run found, cut to this: the judge reads findings, not whole pages


async def assess_answer(
    question: str,
    answer: str,
    findings: Sequence[tuple[str, str]],
    sources: str,
    model: Model | None,
    timeout_s: float = 120.0,
) -> Judgement:
    """With no truth: does what the run's tools found (`findings`: subtask, result) support `answer`?

    A run that read nothing, or no judge, gives no reward (None: the case stays unrated), never a guess.
    """
    if model is None or not answer.strip() or not findings:
        why = "no judge model" if model is None else "no answer" if not answer.strip() else "the run read no sources"
        return Judgement(reward=None, exact=False, f1=0.0, llm=None, reason=f"not self-assessed: {why}", basis="sources")
    evidence = "\n\n".join(f"Subtask: {subtask}\nFound: {result.strip()}" for subtask, result in findings)
    if len(evidence) > EVIDENCE_CHARS:
        evidence = evidence[-EVIDENCE_CHARS:]  # the latest findings: the answer was drawn from them
    case = f"Question:\n{question}\n\nAnswer given:\n{answer}\n\nWhat the run's tools found:\n{evidence}\n\n{sources}"
    words = ("supported", "unsupported")
    verdict, reason, usage = await _ask_verdict(
        model, prompt("self_assess"), case, ASSESS_TOOL, words, "the judge gave no assessment", timeout_s
    )
    reward = {"correct": 1.0, "incorrect": 0.0}.get(verdict)  # unknown: no reward, the case stays unrated
    return Judgement(reward=reward, exact=False, f1=0.0, llm=verdict, reason=reason, usage=usage, basis="sources")
