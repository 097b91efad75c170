"""Scoring answers against a truth: SQuAD-style exact match and F1, checked by hand."""

from __future__ import annotations

import pytest

from memento.agent.judge import exact_match, normalise_answer, split_truth, token_f1


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  A   cat, an owl and THE dog. ", "cat owl and dog"),
        ("3,422", "3422"),
        ("", ""),
    ],
)
def test_normalisation_lowers_and_drops_punctuation_articles_and_extra_spaces(text: str, normal: str) -> None:
    assert normalise_answer(text) == normal


def test_the_reference_alternatives_are_split_on_the_answer_separator() -> None:
    assert split_truth("Paris<|answer_split|> paris, France <|answer_split|>") == ["Paris", "paris, France"]
    assert split_truth(["a", "b<|answer_split|>c"]) == ["a", "b", "c"]


def test_exact_match_takes_the_best_alternative() -> None:
    assert exact_match("the Eiffel tower", "Eiffel Tower<|answer_split|>La tour Eiffel")
    assert exact_match("la Tour Eiffel.", "Eiffel Tower<|answer_split|>La tour Eiffel")
    assert not exact_match("Eiffel", "Eiffel Tower")


def test_token_f1_by_hand() -> None:
    # answer "eiffel" vs "eiffel tower": precision 1, recall 1/2, F1 2/3
    assert token_f1("Eiffel", "Eiffel Tower") == pytest.approx(2 / 3)
    # answer "tower in paris" vs "eiffel tower": common 1; precision 1/3, recall 1/2, F1 0.4
    assert token_f1("tower in Paris", "Eiffel Tower") == pytest.approx(0.4)
    assert token_f1("Eiffel", "Louvre<|answer_split|>Eiffel Tower") == pytest.approx(2 / 3)
    assert token_f1("", "x") == 0.0 and token_f1("x", "") == 0.0


@pytest.mark.anyio
async def test_a_local_judge_is_asked_whether_the_answer_names_the_reference_and_a_hosted_one_the_full_question() -> None:
    from memento.agent.judge import judge_answer
    from tests.scripted_model import ScriptedModel, call, tool_reply

    answer = "Ilse Marrow was the first keeper, and she kept the light for thirty-one years."
    local = ScriptedModel([tool_reply(call("submit_verdict", verdict="correct"))], name="local:qwen2.5-1.5b")
    hosted = ScriptedModel([tool_reply(call("submit_verdict", verdict="correct"))], name="anthropic:claude-sonnet-4-5")
    for model in (local, hosted):
        judged = await judge_answer("Who was the first keeper?", answer, "Ilse Marrow", model)  # type: ignore[arg-type]
        assert judged.reward == 1.0 and not judged.exact and judged.llm == "correct"
    assert "inside a longer sentence" in " ".join(local.calls[0].system.split())
    assert "adds a wrong claim is incorrect" in " ".join(hosted.calls[0].system.split())


@pytest.mark.anyio
async def test_a_judge_that_does_not_answer_in_time_leaves_the_reward_unknown_and_says_how_long_it_waited() -> None:
    import anyio

    from memento.agent.judge import judge_answer

    class Silent:
        name = "local:qwen2.5-1.5b"

        async def generate(self, *args: object, **kwargs: object) -> None:
            await anyio.sleep(60)

    judged = await judge_answer("Who was the first keeper?", "Ilse", "Ilse Marrow", Silent(), timeout_s=0.05)  # type: ignore[arg-type]
    assert judged.llm in (None, "unknown") and "no answer within 0.05 s" in judged.reason
