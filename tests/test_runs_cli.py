"""`memento runs` and `memento feedback`: the commands that read the run traces and reward runs later."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from memento.agent.cli.runs import feedback, runs
from memento.agent.llm import Usage
from memento.agent.traces import RunStore
from memento.core.errors import MementoError
from memento.memory import CaseBank, MemorySettings
from tests.memory_helpers import HashEmbedder
from tests.trace_helpers import record_run

# ---- the commands ---------------------------------------------------------------------------


class _Group(click.Group):
    """As the `memento` group does: a MementoError is one line and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MementoError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
def memento() -> None:
    pass


memento.add_command(runs)
memento.add_command(feedback)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(memento, list(args), prog_name="memento")


def test_runs_list_json_prints_one_object_with_the_runs(memento_home: Path) -> None:
    with RunStore.open(memento_home) as store:
        run_id = record_run(store)
    done = invoke("runs", "list", "--json")
    assert done.exit_code == 0, done.stderr
    listed = json.loads(done.stdout)["runs"]
    assert [r["id"] for r in listed] == [run_id]
    assert listed[0]["tokens"] == 400 and listed[0]["reward"] == 1.0
    assert json.loads(invoke("runs", "list", "--json", "--status", "failed").stdout) == {"runs": []}


def test_runs_show_json_prints_the_whole_trace(memento_home: Path) -> None:
    with RunStore.open(memento_home) as store:
        run_id = record_run(store)
    done = invoke("runs", "show", run_id[:8], "--json")
    assert done.exit_code == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["id"] == run_id and len(shown["tool_calls"]) == 2 and shown["totals"]["tool_errors"] == 1


def test_without_a_terminal_the_commands_print_plain_text(memento_home: Path) -> None:
    with RunStore.open(memento_home) as store:
        run_id = record_run(store)
    listed = invoke("runs", "list")
    assert listed.exit_code == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["id", "started", "status", "reward", "tokens", "cost", "time", "task"]
    assert row.startswith(run_id) and "answered" in row and "What is the capital of Australia?" in row
    shown = invoke("runs", "show", run_id)
    assert shown.exit_code == 0, shown.stderr
    text = shown.stdout
    assert "\x1b[" not in text and "│" not in text  # no colours, no table borders
    for expected in (
        "What is the capital of Australia?",
        "planner fake:planner, executor fake:executor",
        "[case-aaa]",
        "plan, cycle 1: 2 subtasks",
        "subtask 1.2 failed: check it",
        "model executor fake:executor: in 200, out 30, cached 50, 0.7s, $0.0020",
        'tool search.web_search {"query": "capital of Australia"}: 0.8s, 1200 chars',
        "error: FetchFailed: HTTP 503",
        "Canberra",
    ):
        assert expected in text, expected
    steps = ["model planner", "plan, cycle 1", "model executor", "tool search.web_search", "subtask 1.1", "tool browse.fetch_page"]
    steps += ["subtask 1.2", "plan, cycle 2", "subtask 2.1", "reward 1 (judge)"]
    assert [text.index(step) for step in steps] == sorted(text.index(step) for step in steps)  # in the order they happened


def test_an_unknown_run_is_one_line_and_exit_1() -> None:
    done = invoke("runs", "show", "run-nothere")
    assert done.exit_code == 1
    assert done.stderr.strip() == "Error: No run with id 'run-nothere'; memento runs list shows the runs."


def test_the_memento_command_shows_an_error_that_quotes_a_key_with_the_key_masked() -> None:
    from memento.agent.cli import cli

    done = CliRunner().invoke(cli, ["runs", "show", "sk-ant-api03-abcdefghijklmnop"], prog_name="memento")
    assert done.exit_code == 1
    assert done.stderr.strip() == "Error: No run with id '***'; memento runs list shows the runs."


def test_feedback_sets_the_trace_reward_and_the_case_memory_reward(memento_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memento.memory.casebank.make_embedder", lambda *args, **kwargs: HashEmbedder())
    with RunStore.open(memento_home) as store:
        run_id = record_run(store)
    with CaseBank.open(MemorySettings.from_env()) as bank:
        recorded = bank.record_episode("What is the capital of Australia?", ["search the capital"], "Sydney", 0.0, run_id=run_id)
    done = invoke("feedback", run_id, "good")
    assert done.exit_code == 0, done.stderr
    assert "Case memory updated: 1 case(s)" in done.stdout
    with RunStore.open(memento_home) as store:
        assert store.get_run(run_id).reward == 1.0
    with CaseBank.open(MemorySettings.from_env()) as bank:
        case = bank.get(recorded.case_id)
        assert (case.reward, case.outcome) == (1.0, "positive")


def test_feedback_on_a_run_the_memory_never_saw_still_sets_the_trace_reward(memento_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memento.memory.casebank.make_embedder", lambda *args, **kwargs: HashEmbedder())
    with RunStore.open(memento_home) as store:
        run_id = record_run(store)
    done = invoke("feedback", run_id, "0.25")
    assert done.exit_code == 0, done.stderr
    assert "case memory was not changed" in done.stdout
    with RunStore.open(memento_home) as store:
        assert store.get_run(run_id).reward == 0.25


def test_feedback_teaches_the_memory_a_case_that_waited_for_its_reward(memento_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memento.memory.casebank.make_embedder", lambda *args, **kwargs: HashEmbedder())
    with RunStore.open(memento_home) as store:
        run_id = store.start_run("What is the capital of Chile?", planner="p", executor="e", settings={})
        store.finish_run(run_id, answer="Santiago", status="answered", reward=None, judgement=None, case_id=None, usage=Usage())
        record = {"task": "What is the capital of Chile?", "plan": ["search"], "answer": "Santiago", "run_id": run_id, "source": "user"}
        store.save_pending_case(run_id, record)
        assert store.pending_case(run_id) == record and store.get_run(run_id).case_pending
    done = invoke("feedback", run_id, "good")
    assert done.exit_code == 0, done.stderr
    assert "Case memory learned the run" in done.stdout
    with RunStore.open(memento_home) as store:
        run = store.get_run(run_id)
        assert run.reward == 1.0 and run.case_id and not run.case_pending
        assert store.pending_case(run_id) is None  # learned once, never again
    with CaseBank.open(MemorySettings.from_env()) as bank:
        assert run.case_id is not None
        case = bank.get(run.case_id)
        assert (case.answer, case.reward, case.run_id) == ("Santiago", 1.0, run_id)


@pytest.mark.parametrize("reward", ["great", "1.5", "-0.1"])
def test_feedback_refuses_a_reward_that_is_not_good_bad_or_between_0_and_1(memento_home: Path, reward: str) -> None:
    with RunStore.open(memento_home) as store:
        run_id = record_run(store)
    done = invoke("feedback", run_id, "--", reward)
    assert done.exit_code == 2 and ("good, bad" in done.stderr or "between 0 and 1" in done.stderr), done.stderr
    with RunStore.open(memento_home) as store:
        assert store.get_run(run_id).reward == 1.0


def test_feedback_on_an_unknown_run_changes_nothing() -> None:
    done = invoke("feedback", "run-nothere", "bad")
    assert done.exit_code == 1 and "No run with id 'run-nothere'" in done.stderr
