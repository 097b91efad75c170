"""The evaluation scorers, checked by hand: GAIA's rules, exact match and F1, the SimpleQA grader and the LLM judge."""

from __future__ import annotations

import json
from typing import Unpack

import anyio
import pytest

from memento.agent.evals.scoring import (
    SCORERS,
    Score,
    gaia_match,
    grade_simpleqa,
    judge_llm,
    needs_model,
    score_answer,
    score_em,
    score_f1,
    score_gaia,
    simpleqa_metrics,
)
from memento.agent.llm import CallOptions, Message, Reply, ToolSpec, Usage
from memento.agent.prompting import prompt
from memento.core.errors import ModelFailed
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply

# -- GAIA ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "truth"),
    [
        ("1,000", "1000"),
        ("$1,000.50", "1000.5"),
        ("17%", "17"),
        ("12.0", "12"),
        (" 1 000 ", "1000"),  # spaces inside a number go too
        ("a, b, c", "A,B,C"),
        ("1, 2.0; 3", "1;2;3"),
        ("Paris.", "paris"),
        ("PARIS", "Paris"),
        ("sea gull", "seagull"),
        ("U.S., C++", "u.s.,c++"),
        ("Lyon", "Paris<|answer_split|>Lyon"),
    ],
)
def test_gaia_accepts_what_the_official_rules_accept(answer: str, truth: str) -> None:
    assert gaia_match(answer, truth)
    scored = score_gaia(answer, truth)
    assert (scored.scorer, scored.score, scored.correct, scored.grade) == ("gaia", 1.0, True, None)


@pytest.mark.parametrize(
    ("answer", "truth"),
    [
        ("twelve", "12"),
        ("12 km", "12"),
        ("a, b", "a, b, c"),  # lists must have the same length
        ("a, b, c, d", "a, b, c"),
        ("a., b", "a, b"),  # punctuation counts inside list items
        ("St. Louis", "Saint Louis"),
        ("Paris, France", "Paris"),  # a string truth: the comma is dropped, "parisfrance" is not "paris"
        ("Marseille", "Paris<|answer_split|>Lyon"),
        ("", "Paris"),
    ],
)
def test_gaia_refuses_what_the_official_rules_refuse(answer: str, truth: str) -> None:
    assert not gaia_match(answer, truth)
    scored = score_gaia(answer, truth)
    assert (scored.score, scored.correct) == (0.0, False)


def test_gaia_says_which_rule_it_applied() -> None:
    assert score_gaia("12", "12").detail == "compared as a number"
    assert score_gaia("a", "a; b; c").detail == "compared as a list of 3"
    assert score_gaia("Paris", "Paris").detail == "compared as a string"
    assert score_gaia("Paris", "").detail == "no reference answer"


def test_a_thousands_comma_in_a_gaia_truth_makes_it_a_list() -> None:
    # float("1,000") fails, so the official rules read this truth as the list ["1", "000"].
    assert not gaia_match("1000", "1,000")
    assert gaia_match("1,000", "1,000")


def test_gaia_never_matches_a_word_to_a_non_finite_number() -> None:
    assert gaia_match("NaN", "nan") and gaia_match("infinity", "Infinity")
    assert not gaia_match("no idea", "inf")


# -- SQuAD exact match and F1 ---------------------------------------------------------------------


def test_exact_match_ignores_articles_punctuation_and_case() -> None:
    assert score_em("The Eiffel Tower", "eiffel tower") == Score("em", 1.0, True)
    assert score_em("Eiffel Tower!", "eiffel tower").correct
    assert not score_em("Eiffel", "eiffel tower").correct


def test_exact_match_and_f1_take_the_best_alternative() -> None:
    assert score_em("La Tour Eiffel", "Eiffel Tower<|answer_split|>la tour eiffel").correct
    assert score_em("la tour eiffel", ["Eiffel Tower", "La Tour Eiffel"]).correct
    assert score_f1("la tour eiffel", "Eiffel Tower<|answer_split|>La Tour Eiffel") == Score("f1", 1.0, True)


def test_f1_of_a_partial_overlap_by_hand() -> None:
    # "the big red dog" → big red dog; against "red dog": precision 2/3, recall 1, F1 0.8
    scored = score_f1("the big red dog", "red dog")
    assert scored.score == pytest.approx(0.8)
    assert scored.correct is False
    assert scored.to_json() == {"scorer": "f1", "score": 0.8, "correct": False, "grade": None, "detail": ""}


def test_an_empty_answer_scores_zero_and_says_so() -> None:
    assert score_em("", "Paris") == Score("em", 0.0, False, detail="no answer")
    assert score_f1("  ", "Paris") == Score("f1", 0.0, False, detail="no answer")


def test_to_json_rounds_the_score_and_keeps_an_unknown_one_none() -> None:
    assert Score("f1", 2 / 3, False).to_json()["score"] == 0.6667
    unknown = Score("llm", None, None, "unknown", "timed out", Usage(1, 2))
    assert unknown.to_json() == {"scorer": "llm", "score": None, "correct": None, "grade": "unknown", "detail": "timed out"}


# -- the SimpleQA grader and the LLM judge, with scripted models ----------------------------------------

QUESTION = "Which city hosted the 1900 Summer Olympics?"


def grade(name: str, reason: str = "checked", usage: Usage | None = None) -> Reply:
    return tool_reply(call("submit_grade", grade=name, reason=reason), usage=usage)


def verdict(name: str, reason: str = "checked") -> Reply:
    return tool_reply(call("submit_verdict", verdict=name, reason=reason))


class HangingModel:
    """A model that never answers, for the time limits."""

    name = "hanging:model"
    context_tokens = 200_000

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec], **options: Unpack[CallOptions]) -> Reply:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        pass


def test_the_simpleqa_grader_prompt_has_no_placeholders_and_names_its_tool() -> None:
    text = prompt("simpleqa_grader")
    assert "submit_grade" in text and "not_attempted" in text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("said", "score", "correct"),
    [("correct", 1.0, True), ("incorrect", 0.0, False), ("not_attempted", 0.0, False)],
)
async def test_each_simpleqa_grade_scores_as_simpleqa_does(said: str, score: float, correct: bool) -> None:
    model = ScriptedModel([grade(said, "the reason", Usage(input_tokens=100, output_tokens=10))])
    scored = await grade_simpleqa(QUESTION, "I believe it was Paris, in France", "Paris", model)
    assert scored == Score("simpleqa", score, correct, said, "the reason", Usage(input_tokens=100, output_tokens=10))
    (seen,) = model.calls
    assert seen.system == prompt("simpleqa_grader")
    assert (seen.tool_choice, seen.max_tokens, [t.name for t in seen.tools]) == ("any", 512, ["submit_grade"])
    assert json.loads(seen.last_user_text) == {
        "question": QUESTION,
        "gold_answers": ["Paris"],
        "predicted_answer": "I believe it was Paris, in France",
    }


@pytest.mark.anyio
async def test_a_grade_written_with_a_space_is_still_read() -> None:
    scored = await grade_simpleqa(QUESTION, "no idea", "Paris", ScriptedModel([grade("Not attempted")]))
    assert (scored.grade, scored.score) == ("not_attempted", 0.0)


@pytest.mark.anyio
async def test_an_empty_or_exactly_matching_answer_is_graded_without_the_model() -> None:
    model = ScriptedModel()  # any call would fail the test: nothing is scripted
    assert await grade_simpleqa(QUESTION, " ", "Paris", model) == Score("simpleqa", 0.0, False, "not_attempted", "no answer")
    assert await grade_simpleqa(QUESTION, "paris.", "Paris", model) == Score("simpleqa", 1.0, True, "correct", "exact match")
    assert not model.calls


@pytest.mark.anyio
@pytest.mark.parametrize(
    "step",
    [
        ModelFailed("Anthropic answered 529 three times; retries spent."),
        text_reply("It is correct."),
        tool_reply(call("submit_grade", grade="partly")),
        tool_reply(call("submit_verdict", verdict="correct")),
    ],
    ids=["model failed", "no tool call", "a grade out of the enum", "the wrong tool"],
)
async def test_a_simpleqa_grader_that_fails_leaves_the_grade_unknown_not_wrong(step: Reply | Exception) -> None:
    scored = await grade_simpleqa(QUESTION, "Lutetia", "Paris", ScriptedModel([step]))
    assert (scored.score, scored.correct, scored.grade) == (None, None, "unknown")
    assert scored.detail


@pytest.mark.anyio
async def test_a_simpleqa_grader_that_takes_too_long_is_unknown() -> None:
    with anyio.fail_after(10):
        scored = await grade_simpleqa(QUESTION, "Lutetia", "Paris", HangingModel(), timeout_s=0.01)
    assert scored == Score("simpleqa", None, None, "unknown", "the grader gave no grade within 0.01 s")


@pytest.mark.anyio
@pytest.mark.parametrize(("said", "score", "correct"), [("correct", 1.0, True), ("incorrect", 0.0, False)])
async def test_the_llm_judge_gives_its_verdict(said: str, score: float, correct: bool) -> None:
    model = ScriptedModel([verdict(said, "same city")])
    scored = await judge_llm(QUESTION, "the French capital", "Paris", model)
    assert (scored.scorer, scored.score, scored.correct, scored.grade, scored.detail) == ("llm", score, correct, said, "same city")
    assert model.calls[0].system == prompt("judge")


@pytest.mark.anyio
async def test_the_llm_judge_needs_no_model_for_an_exact_match_or_an_empty_answer() -> None:
    model = ScriptedModel()
    assert await judge_llm(QUESTION, "The Paris", "Paris", model) == Score("llm", 1.0, True, "correct", "exact match")
    assert await judge_llm(QUESTION, "", "Paris", model) == Score("llm", 0.0, False, "incorrect", "no answer")


@pytest.mark.anyio
@pytest.mark.parametrize("step", [ModelFailed("overloaded"), text_reply("Looks right to me.")], ids=["model failed", "no tool call"])
async def test_an_llm_judge_that_fails_leaves_the_grade_unknown_not_wrong(step: Reply | Exception) -> None:
    scored = await judge_llm(QUESTION, "Lutetia", "Paris", ScriptedModel([step]))
    assert (scored.score, scored.correct, scored.grade) == (None, None, "unknown")
    assert scored.detail


@pytest.mark.anyio
async def test_an_llm_judge_that_takes_too_long_is_unknown() -> None:
    with anyio.fail_after(10):
        scored = await judge_llm(QUESTION, "Lutetia", "Paris", HangingModel(), timeout_s=0.01)
    assert (scored.score, scored.correct, scored.grade) == (None, None, "unknown")


@pytest.mark.anyio
async def test_the_graders_do_not_grade_against_an_empty_truth() -> None:
    model = ScriptedModel()
    assert (await grade_simpleqa(QUESTION, "Paris", "", model)).grade == "unknown"
    assert (await judge_llm(QUESTION, "Paris", [], model)).grade == "unknown"


# -- several scorers at once ----------------------------------------------------------------------


def test_only_the_simpleqa_and_llm_scorers_need_a_model() -> None:
    assert [name for name in SCORERS if needs_model(name)] == ["simpleqa", "llm"]
    with pytest.raises(ValueError, match="unknown scorer 'bleu'"):
        needs_model("bleu")


@pytest.mark.anyio
async def test_score_answer_runs_each_named_scorer_in_order() -> None:
    model = ScriptedModel([grade("correct"), verdict("correct")])
    scores = await score_answer(["f1", "gaia", "simpleqa", "llm", "em"], QUESTION, "Paris, France", "Paris", model)
    assert list(scores) == ["f1", "gaia", "simpleqa", "llm", "em"]
    assert {name: s.score for name, s in scores.items()} == {
        "f1": pytest.approx(2 / 3),
        "gaia": 0.0,
        "simpleqa": 1.0,
        "llm": 1.0,
        "em": 0.0,
    }
    assert [c.tools[0].name for c in model.calls] == ["submit_grade", "submit_verdict"]


@pytest.mark.anyio
async def test_without_a_model_the_model_scorers_are_unknown_and_the_others_still_score() -> None:
    scores = await score_answer(["gaia", "llm", "simpleqa"], QUESTION, "Paris", "Paris", None)
    assert scores["gaia"].correct is True
    for name in ("llm", "simpleqa"):
        assert scores[name] == Score(name, None, None, "unknown", "no grader model configured")


@pytest.mark.anyio
async def test_an_unknown_scorer_is_refused_before_any_model_is_asked() -> None:
    model = ScriptedModel()
    with pytest.raises(ValueError, match="unknown scorer 'rouge'"):
        await score_answer(["llm", "rouge"], QUESTION, "Lutetia", "Paris", model)
    assert not model.calls


# -- SimpleQA's summary ---------------------------------------------------------------------------


def test_simpleqa_metrics_by_hand_leave_unknown_grades_out_of_the_fractions() -> None:
    grades = ["correct"] * 6 + ["incorrect"] * 2 + ["not_attempted"] * 2 + ["unknown"]
    metrics = simpleqa_metrics(grades)
    assert {k: metrics[k] for k in ("n", "correct", "incorrect", "not_attempted", "unknown")} == {
        "n": 11,
        "correct": 6,
        "incorrect": 2,
        "not_attempted": 2,
        "unknown": 1,
    }
    # overall 6/10, given attempted 6/8, F1 2 × 0.6 × 0.75 / 1.35
    assert metrics["overall_correct"] == pytest.approx(0.6)
    assert metrics["accuracy_given_attempted"] == pytest.approx(0.75)
    assert metrics["f1"] == pytest.approx(0.6667, abs=1e-4)


def test_simpleqa_metrics_of_nothing_graded_are_zero_not_an_error() -> None:
    metrics = simpleqa_metrics(["unknown", "not_attempted"])
    assert (metrics["overall_correct"], metrics["accuracy_given_attempted"], metrics["f1"]) == (0.0, 0.0, 0.0)
    assert simpleqa_metrics([])["n"] == 0


def test_simpleqa_metrics_refuse_a_grade_they_do_not_know() -> None:
    with pytest.raises(ValueError, match="'partly'"):
        simpleqa_metrics(["correct", "partly"])
