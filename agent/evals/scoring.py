"""Scoring one answer of an evaluation run against its reference answer.

Five scorers: GAIA's rules (numbers, lists, strings), SQuAD exact match and
token F1, the SimpleQA grader (correct / incorrect / not attempted) and the
agent's LLM judge. A grader that fails gives `unknown` and a score of None,
never 0. This module scores single answers; it neither loads datasets nor runs the agent.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from memento.core.errors import ModelFailed

from ..judge import exact_match, judge_answer, split_truth, token_f1
from ..llm import Message, Model, ToolSpec, Usage
from ..prompting import prompt

__all__ = [
    "SCORERS",
    "ScorerName",
    "Score",
    "gaia_match",
    "score_gaia",
    "score_em",
    "score_f1",
    "grade_simpleqa",
    "judge_llm",
    "needs_model",
    "score_answer",
    "simpleqa_metrics",
]

ScorerName = Literal["gaia", "em", "f1", "simpleqa", "llm"]
SCORERS: tuple[str, ...] = ("gaia", "em", "f1", "simpleqa", "llm")
_MODEL_SCORERS = frozenset({"simpleqa", "llm"})

SimpleQAGrade = Literal["correct", "incorrect", "not_attempted"]
_SIMPLEQA_GRADES: tuple[SimpleQAGrade, ...] = ("correct", "incorrect", "not_attempted")

GRADE_TOOL = ToolSpec(
    name="submit_grade",
    description="Give the grade of the predicted answer against the gold answer.",
    input_schema={
        "type": "object",
        "properties": {
            "grade": {"type": "string", "enum": list(_SIMPLEQA_GRADES)},
            "reason": {"type": "string", "description": "One short sentence."},
        },
        "required": ["grade"],
    },
)


@dataclass
class Score:
    """How one scorer rated one answer; `score` and `correct` are None when the grader could not say."""

    scorer: str
    score: float | None
    correct: bool | None
    grade: str | None = None  # simpleqa and llm only; "unknown" when the grader failed
    detail: str = ""
    usage: Usage | None = None

    def to_json(self) -> dict[str, Any]:
        score = None if self.score is None else round(self.score, 4)
        return {"scorer": self.scorer, "score": score, "correct": self.correct, "grade": self.grade, "detail": self.detail}


def _unknown(scorer: str, detail: str, usage: Usage | None = None) -> Score:
    return Score(scorer, None, None, "unknown", detail, usage)


# -- GAIA ----------------------------------------------------------------------------------------

_LIST_SEPARATORS = re.compile(r"[,;]")
_NUMBER_NOISE = re.compile(r"[$%,\s]")
_WHITESPACE = re.compile(r"\s")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _as_number(text: str) -> float | None:
    """`text` as a float once `$`, `%`, `,` and whitespace are gone; None when it is not a number."""
    try:
        return float(_NUMBER_NOISE.sub("", text))
    except ValueError:
        return None


def _truth_number(text: str) -> float | None:
    # float() also reads "nan" and "inf"; such a truth is compared as a word, so that "NaN" can match at all.
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _squeeze(text: str, *, keep_punctuation: bool) -> str:
    squeezed = _WHITESPACE.sub("", text).lower()
    return squeezed if keep_punctuation else squeezed.translate(_PUNCTUATION)


def _gaia_one(answer: str, truth: str) -> bool:
    number = _truth_number(truth)
    if number is not None:
        return _as_number(answer) == number
    if _LIST_SEPARATORS.search(truth):
        theirs, mine = _LIST_SEPARATORS.split(truth), _LIST_SEPARATORS.split(answer)
        return len(mine) == len(theirs) and all(_gaia_element(a, t) for a, t in zip(mine, theirs))
    return _squeeze(answer, keep_punctuation=False) == _squeeze(truth, keep_punctuation=False)


def _gaia_element(answer: str, truth: str) -> bool:
    number = _truth_number(truth)
    if number is not None:
        return _as_number(answer) == number
    # The official scorer keeps punctuation inside list items: an item may be "U.S." or "C++".
    return _squeeze(answer, keep_punctuation=True) == _squeeze(truth, keep_punctuation=True)


def gaia_match(answer: str, truth: str | Sequence[str]) -> bool:
    """Whether `answer` matches the truth (or one of its alternatives) under GAIA's scoring rules.

    A numeric truth is compared as a number (the answer without `$`, `%`, `,` and
    spaces); a truth with `,` or `;` as a list of the same length, item by item
    (numbers as numbers, words without spaces and case); any other truth as a
    string without spaces, punctuation and case.
    """
    return any(_gaia_one(answer, alt) for alt in split_truth(truth))


def _gaia_rule(truth: str) -> str:
    if _truth_number(truth) is not None:
        return "compared as a number"
    if _LIST_SEPARATORS.search(truth):
        return f"compared as a list of {len(_LIST_SEPARATORS.split(truth))}"
    return "compared as a string"


def score_gaia(answer: str, truth: str | Sequence[str]) -> Score:
    """GAIA's rules: 1.0 when the answer matches the truth or an alternative, else 0.0."""
    alternatives = split_truth(truth)
    if not alternatives:
        return Score("gaia", 0.0, False, detail="no reference answer")
    correct = gaia_match(answer, alternatives)
    return Score("gaia", float(correct), correct, detail=_gaia_rule(alternatives[0]))


# -- SQuAD exact match and F1 (judge.py's normalisation) -------------------------------------------


def score_em(answer: str, truth: str | Sequence[str]) -> Score:
    """SQuAD exact match against the best alternative."""
    correct = exact_match(answer, truth)
    return Score("em", float(correct), correct, detail="" if answer.strip() else "no answer")


def score_f1(answer: str, truth: str | Sequence[str]) -> Score:
    """The best SQuAD token F1 over the alternatives; correct only when it is 1."""
    f1 = token_f1(answer, truth)
    return Score("f1", f1, f1 == 1.0, detail="" if answer.strip() else "no answer")


# -- graders with a model ---------------------------------------------------------------------------


async def grade_simpleqa(question: str, answer: str, truth: str | Sequence[str], model: Model, timeout_s: float = 120.0) -> Score:
    """SimpleQA's three grades from `model`: correct (1.0), incorrect or not attempted (0.0), or unknown (None).

    An empty answer is not attempted and an exact match correct without asking the model.
    """
    truths = split_truth(truth)
    if not truths:
        return _unknown("simpleqa", "no reference answer")
    if not answer.strip():
        return Score("simpleqa", 0.0, False, "not_attempted", "no answer")
    if exact_match(answer, truths):
        return Score("simpleqa", 1.0, True, "correct", "exact match")
    case = json.dumps({"question": question, "gold_answers": truths, "predicted_answer": answer}, ensure_ascii=False, indent=1)
    try:
        with anyio.fail_after(timeout_s):
            reply = await model.generate(prompt("simpleqa_grader"), [Message.user(case)], [GRADE_TOOL], tool_choice="any", max_tokens=512)
    except ModelFailed as exc:
        return _unknown("simpleqa", f"the grader failed: {exc}")
    except TimeoutError:
        return _unknown("simpleqa", f"the grader gave no grade within {timeout_s:g} s")
    for call in reply.tool_calls:
        said = re.sub(r"[\s-]+", "_", str(call.arguments.get("grade", "")).strip().lower())
        if call.name == GRADE_TOOL.name and said in _SIMPLEQA_GRADES:
            correct = said == "correct"
            return Score("simpleqa", float(correct), correct, said, str(call.arguments.get("reason", "")), reply.usage)
    return _unknown("simpleqa", "the grader gave no grade", reply.usage)


async def judge_llm(question: str, answer: str, truth: str | Sequence[str], model: Model, timeout_s: float = 120.0) -> Score:
    """The agent's own judge (judge.py): exact match first, then the model's verdict; unknown when it fails."""
    if not split_truth(truth):
        return _unknown("llm", "no reference answer")
    judged = await judge_answer(question, answer, truth, model, timeout_s)
    if judged.reward is None:
        return _unknown("llm", judged.reason, judged.usage)
    correct = judged.reward == 1.0
    detail = "exact match" if judged.exact else judged.reason
    return Score("llm", judged.reward, correct, "correct" if correct else "incorrect", detail, judged.usage)


# -- several scorers at once ----------------------------------------------------------------------


def _check_scorer(name: str) -> None:
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; choose from {', '.join(SCORERS)}")


def needs_model(scorer: str) -> bool:
    """Whether `scorer` asks a grader model (simpleqa, llm); an unknown name is a ValueError."""
    _check_scorer(scorer)
    return scorer in _MODEL_SCORERS


async def score_answer(
    scorers: Sequence[str],
    question: str,
    answer: str,
    truth: str | Sequence[str],
    model: Model | None,
    timeout_s: float = 120.0,
) -> dict[str, Score]:
    """Each named scorer's `Score`, in the order named; a model scorer without a model is unknown.

    Every name is checked before any model is asked: an unknown one is a ValueError.
    """
    for name in scorers:
        _check_scorer(name)
    scores: dict[str, Score] = {}
    for name in scorers:
        if name in scores:
            continue
        if name == "gaia":
            scores[name] = score_gaia(answer, truth)
        elif name == "em":
            scores[name] = score_em(answer, truth)
        elif name == "f1":
            scores[name] = score_f1(answer, truth)
        elif model is None:
            scores[name] = _unknown(name, "no grader model configured")
        elif name == "simpleqa":
            scores[name] = await grade_simpleqa(question, answer, truth, model, timeout_s)
        else:
            scores[name] = await judge_llm(question, answer, truth, model, timeout_s)
    return scores


def simpleqa_metrics(grades: Sequence[str]) -> dict[str, float | int]:
    """SimpleQA's summary of many grades: counts, then overall correct, accuracy given attempted and their F1.

    Unknown grades are counted but left out of every fraction; any other grade is a ValueError.
    """
    counts = dict.fromkeys((*_SIMPLEQA_GRADES, "unknown"), 0)
    for grade in grades:
        if grade not in counts:
            raise ValueError(f"unknown SimpleQA grade {grade!r}; expected one of {', '.join(counts)}")
        counts[grade] += 1
    graded = counts["correct"] + counts["incorrect"] + counts["not_attempted"]
    attempted = counts["correct"] + counts["incorrect"]
    overall = counts["correct"] / graded if graded else 0.0
    given_attempted = counts["correct"] / attempted if attempted else 0.0
    both = overall + given_attempted
    return {
        "n": len(grades),
        **counts,
        "overall_correct": overall,
        "accuracy_given_attempted": given_attempted,
        "f1": 2 * overall * given_attempted / both if both else 0.0,
    }
