"""`memento eval` explores while it trains (issue 24): iterations before the last sample their cases, the last is greedy.

The real command in a subprocess, the real Anthropic SDK against the fake Messages API on loopback, the real case
bank and traces, and the documents server over stdio; the planner answers these tasks alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memento.agent.evals.results import ResultLog
from tests.eval_helpers import EvalResponder, eval_environment
from tests.fake_llm import FakeAnthropic
from tests.test_agent_more import memento
from tests.test_eval import QUESTIONS, generic_rows, write_jsonl


@pytest.mark.integration
def test_eval_training_iterations_explore_at_the_temperature_and_the_last_one_is_greedy(
    tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic
) -> None:
    env = eval_environment(tmp_path, memento_home, fake_anthropic)
    fake_anthropic.responder = EvalResponder(dict(QUESTIONS))
    fake_anthropic.max_requests = 1000
    dataset = write_jsonl(tmp_path / "trivia.jsonl", generic_rows())
    out = tmp_path / "out"
    done = memento(
        env,
        "eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--id-field", "qid",
        "--iterations", "3", "--concurrency", "3", "--memory", "similarity", "--explore", "0.8", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    rows = ResultLog(out / "results.jsonl").read()
    assert len(rows) == 18
    assert {r["temperature"] for r in rows if r["iteration"] in (1, 2)} == {0.8}
    assert {r["temperature"] for r in rows if r["iteration"] == 3} == {None}
    config = json.loads((out / "config.json").read_text())
    assert config["explore"] == {"temperature": 0.8, "iterations": [1, 2]} and config["fingerprint"]["training_temperature"] == 0.8

    trained = next(r for r in rows if r["iteration"] == 2)
    shown = memento(env, "runs", "show", trained["run_id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["temperature"] == 0.8
    measured = next(r for r in rows if r["iteration"] == 3)
    shown = memento(env, "runs", "show", measured["run_id"])
    assert shown.returncode == 0 and "similarity, greedy (the best cases)" in shown.stdout

    resumed = memento(
        env,
        "eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--id-field", "qid",
        "--iterations", "3", "--memory", "similarity", "--explore", "0", "--out", str(out), "--resume",
    )  # fmt: skip
    assert resumed.returncode == 1 and "other training_temperature" in resumed.stderr  # never two exploration settings in one eval
