"""`memento eval`: datasets, shards, the result file, reports, and whole evals through the real CLI.

The whole evals run the real command in a subprocess with the real Anthropic SDK
against the fake Messages API on loopback, the real case bank and traces, and
the documents server over stdio (the one GAIA attachments need); the planner
answers these tasks alone.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from memento.agent.evals.datasets import DatasetError, EvalTask, load_dataset, parse_shard, select_tasks
from memento.agent.evals.report import Group, load_groups, summarise, write_report
from memento.agent.evals.results import ResultLog, latest
from tests.eval_helpers import EvalResponder, eval_environment
from tests.fake_llm import FakeAnthropic
from tests.test_agent_more import memento

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "data" / "reference" / "deepresearcher.jsonl"

QUESTIONS = {
    "What is the capital of France?": "Paris",
    "Who wrote Hamlet?": "William Shakespeare",
    "What is the chemical symbol for gold?": "Au",
    "How many legs does a spider have?": "8",
    "Which planet is known as the red planet?": "Mars",
    "What is the largest ocean on Earth?": "Pacific Ocean",
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def generic_rows() -> list[dict]:
    return [{"qid": f"q{i}", "q": q, "a": a, "topic": "trivia"} for i, (q, a) in enumerate(QUESTIONS.items())]


# ---- datasets ------------------------------------------------------------------------------------


def test_the_reference_deepresearcher_file_reads_with_sources_and_alternatives() -> None:
    data = load_dataset(REFERENCE)
    assert data.format == "deepresearcher" and len(data.tasks) == 3197
    assert Counter(t.source for t in data.tasks)["Bamboogle"] == 125
    columbia = next(t for t in data.tasks if t.question == "What is the capital of Columbia County?")
    assert columbia.truth == ("Bloomsburg", "The Only Town in Pennsylvania", "Eyersburg")
    assert len({t.id for t in data.tasks}) == 3197  # repeated questions get distinct ids


def test_gaia_folders_bring_levels_attachments_and_hidden_answers(tmp_path: Path) -> None:
    (tmp_path / "sheet.xlsx").write_bytes(b"x")
    rows = [
        {"task_id": "a1", "Question": "Sum the sheet.", "Final answer": "1000", "Level": 1, "file_name": "sheet.xlsx"},
        {"task_id": "b2", "Question": "Secret?", "Final answer": "?", "Level": "3", "file_name": ""},
    ]
    write_jsonl(tmp_path / "metadata.jsonl", rows)
    data = load_dataset(tmp_path)
    assert data.format == "gaia" and data.attachments_dir == tmp_path
    first, second = data.tasks
    assert first.files == (tmp_path / "sheet.xlsx",) and first.level == "1" and first.truth == ("1000",)
    assert second.truth == () and data.notes == ["1 task(s) have no known answer; they run but are not scored"]

    (tmp_path / "sheet.xlsx").unlink()
    with pytest.raises(DatasetError, match=r"1 attachment.*not beside it: sheet\.xlsx"):
        load_dataset(tmp_path / "metadata.jsonl")


def test_simpleqa_csv_reads_problems_answers_and_topics(tmp_path: Path) -> None:
    path = tmp_path / "simple_qa.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["metadata", "problem", "answer"])
        writer.writerow(["{'topic': 'Science', 'answer_type': 'Number'}", "How many moons has Mars?", "2"])
        writer.writerow(["{'topic': 'Art'}", 'Who painted "Guernica", in 1937?', "Pablo Picasso"])
    data = load_dataset(path)
    assert data.format == "simpleqa"
    assert [(t.question, t.truth, t.source) for t in data.tasks] == [
        ("How many moons has Mars?", ("2",), "Science"),
        ('Who painted "Guernica", in 1937?', ("Pablo Picasso",), "Art"),
    ]


def test_generic_jsonl_needs_its_fields_named_and_bad_rows_say_where(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mine.jsonl", generic_rows())
    with pytest.raises(DatasetError, match="--question-field"):
        load_dataset(path)
    data = load_dataset(path, question_field="q", answer_field="a", id_field="qid")
    assert data.format == "jsonl" and data.tasks[1] == EvalTask("q1", "Who wrote Hamlet?", ("William Shakespeare",))
    with path.open("a") as handle:
        handle.write('{"q": "Broken"\n')
    with pytest.raises(DatasetError, match=r"mine.jsonl:7: not JSON"):
        load_dataset(path, question_field="q", answer_field="a")
    with pytest.raises(DatasetError, match="No dataset"):
        load_dataset(tmp_path / "absent.jsonl")


def test_shards_cover_every_task_exactly_once_and_samples_repeat_with_their_seed() -> None:
    tasks = load_dataset(REFERENCE).tasks
    for count in (1, 3, 7):
        shards = [select_tasks(tasks, shard=(i, count)) for i in range(1, count + 1)]
        ids = [t.id for shard in shards for t in shard]
        assert sorted(ids) == sorted(t.id for t in tasks)  # every task once: no gap, no overlap
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
    sampled = select_tasks(tasks, sample=50, seed=7)
    assert sampled == select_tasks(tasks, sample=50, seed=7) != select_tasks(tasks, sample=50, seed=8)
    assert [tasks.index(t) for t in sampled] == sorted(tasks.index(t) for t in sampled)  # file order kept
    assert len(select_tasks(tasks, sample=50, seed=7, limit=10, shard=(2, 2))) == 5
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(DatasetError, match="--shard"):
            parse_shard(bad)


# ---- the result file and reports ------------------------------------------------------------------


def row(task_id: str, correct: bool | None, *, iteration: int = 1, attempt: int = 1, source: str = "nq", **extra) -> dict:
    return {
        "id": task_id,
        "question": f"question {task_id}",
        "truth": "x",
        "answer": "y",
        "score": None if correct is None else float(correct),
        "correct": correct,
        "run_id": f"run-{task_id}-{iteration}-{attempt}",
        "iteration": iteration,
        "attempt": attempt,
        "tokens": 100,
        "cost_usd": 0.01,
        "seconds": 2.0,
        "status": "answered",
        "source": source,
        **extra,
    }


def test_a_torn_last_line_is_ignored_then_cut_off_and_the_last_line_of_a_task_wins(tmp_path: Path) -> None:
    log = ResultLog(tmp_path / "results.jsonl")
    log.append(row("a", False, status="failed"))
    log.append(row("b", True))
    with log.path.open("ab") as handle:
        handle.write(b'{"id": "c", "question": "half a li')  # what a kill inside a write leaves
    assert [r["id"] for r in log.read()] == ["a", "b"]
    assert log.repair() > 0 and log.path.read_bytes().endswith(b"\n")
    log.append(row("a", True))  # the failed task, run again
    rows = latest(log.read())
    assert [(r["id"], r["correct"]) for r in rows] == [("a", True), ("b", True)]
    with pytest.raises(ValueError, match="needs"):
        log.append({"id": "incomplete"})


def test_the_summary_counts_unknown_apart_and_splits_by_source_iteration_and_attempt(tmp_path: Path) -> None:
    rows = [
        row("a", True, source="nq"),
        row("b", False, source="nq"),
        row("c", None, source="tq"),  # the grader could not decide
        row("a", True, iteration=2),
        row("b", True, iteration=2),
        row("c", False, iteration=2, source="tq"),
        row("a", False, iteration=2, attempt=2),
        row("b", True, iteration=2, attempt=2),
        row("c", False, iteration=2, attempt=2, source="tq"),
        {**row("d", None), "truth": ""},  # no known answer
    ]
    summary = summarise(Group("q", {"memory": "q"}, [tmp_path], rows))
    assert summary["n"] == 10 and summary["tasks"] == 4
    assert (summary["scored"], summary["correct"], summary["unknown"], summary["unscored"]) == (8, 4, 1, 1)
    assert summary["accuracy"] == 0.5
    low, high = summary["accuracy_ci95"]  # Wilson, 4 of 8: 21.5%-78.5%
    assert (low, high) == (0.2152, 0.7848)
    assert summary["per_iteration"]["1"]["accuracy"] == 0.5 and summary["per_iteration"]["2"]["accuracy"] == 0.5
    assert summary["per_source"]["tq"] == {"n": 3, "scored": 2, "correct": 0, "accuracy": 0.0, "unknown": 1}
    # iteration 2, k=2: a = (1+0)/2, b = 1, c = 0 -> avg 0.5; best: a, b -> 2/3
    assert summary["at_k"]["2"] == {"avg": 0.5, "best": 0.6667, "tasks": 3}
    assert summary["tokens"] == 1000 and summary["cost_usd"] == 0.1


def test_reports_merge_shards_and_put_memory_designs_side_by_side(tmp_path: Path) -> None:
    def folder(name: str, memory: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "config.json").write_text(json.dumps({"memory": memory, "dataset": {"sha256": "abc", "path": "d.jsonl"}}))
        for r in rows:
            ResultLog(path / "results.jsonl").append(r)
        return path

    shard1 = folder("q-1", "q", [row("a", True), row("a", True, iteration=2)])
    shard2 = folder("q-2", "q", [row("b", False), row("b", True, iteration=2)])
    none = folder("none", "none", [row("a", False), row("b", False), row("a", False, iteration=2), row("b", True, iteration=2)])
    groups = load_groups([shard1, shard2, none])
    assert [(g.label, len(g.rows)) for g in groups] == [("q", 4), ("none", 4)]
    document = write_report(tmp_path / "compare", groups)
    q, base = document["groups"]
    assert q["per_iteration"]["1"]["accuracy"] == 0.5 and q["per_iteration"]["2"]["accuracy"] == 1.0
    assert base["per_iteration"]["2"]["accuracy"] == 0.5
    report = (tmp_path / "compare" / "report.md").read_text()
    assert "| accuracy (95% interval) | 75.0%" in report and "## Accuracy per iteration" in report
    for plot in ("accuracy_per_iteration.png", "accuracy_per_source.png"):
        assert (tmp_path / "compare" / plot).read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FileNotFoundError, match="not an eval folder"):
        load_groups([tmp_path])


# ---- whole evals through the CLI -------------------------------------------------------------------


@pytest.fixture
def eval_env(tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic) -> dict[str, str]:
    """The environment of an eval: the documents server, the fake vendor, a private MEMENTO_HOME."""
    return eval_environment(tmp_path, memento_home, fake_anthropic)


def results(folder: Path) -> list[dict]:
    return ResultLog(folder / "results.jsonl").read()


@pytest.mark.integration
def test_a_two_iteration_eval_learns_between_iterations_and_writes_every_output(
    tmp_path: Path, eval_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    questions = list(QUESTIONS)
    responder = EvalResponder({q: a for q, a in QUESTIONS.items() if q != questions[3]})  # one wrong answer
    fake_anthropic.responder = responder
    fake_anthropic.max_requests = 1000
    dataset = write_jsonl(tmp_path / "trivia.jsonl", generic_rows())
    out = tmp_path / "out"
    done = memento(
        eval_env,
        "eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--id-field", "qid",
        "--iterations", "2", "--concurrency", "3", "--memory", "similarity", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "similarity: accuracy 83.3% (10/12 scored)" in done.stdout

    lines = results(out)
    assert len(lines) == 12 and Counter((r["id"], r["iteration"]) for r in lines).most_common(1)[0][1] == 1
    for line in lines:
        assert list(line)[:13] == ["id", "question", "truth", "answer", "score", "correct", "run_id", "iteration",
                                   "attempt", "tokens", "cost_usd", "seconds", "status"]  # fmt: skip
        assert line["status"] == "answered" and line["tokens"] > 0 and line["run_id"].startswith("run-")
        assert set(line["scores"]) == {"em", "f1", "llm"}
    # the second pass was shown what the first learned
    assert all(r["cases_shown"] for r in lines if r["iteration"] == 2)
    assert any("These plans worked" in turn for turn in responder.shown[questions[0]][1:])

    summary = json.loads((out / "summary.json").read_text())
    assert summary["per_iteration"]["1"]["accuracy"] == summary["per_iteration"]["2"]["accuracy"] == 0.8333
    assert summary["scorers"]["em"]["mean"] == 0.8333 and summary["memory"] == "similarity"
    config = json.loads((out / "config.json").read_text())
    assert config["models"]["planner"] and config["dataset"]["sha256"] and config["versions"]["python"]
    assert "sk-ant" not in json.dumps(config)
    assert (out / "report.md").read_text().startswith("# Eval report")
    assert (out / "accuracy_per_iteration.png").read_bytes().startswith(b"\x89PNG")

    shown = memento(eval_env, "runs", "show", lines[0]["run_id"])
    assert shown.returncode == 0 and lines[0]["question"] in shown.stdout

    again = memento(eval_env, "eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--out", str(out))
    assert again.returncode == 1 and "--resume" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.integration
def test_an_eval_killed_mid_run_resumes_without_repeating_or_losing_a_task(
    tmp_path: Path, eval_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    responder = EvalResponder(dict(QUESTIONS), delay_s=0.4)
    fake_anthropic.responder = responder
    fake_anthropic.max_requests = 1000
    dataset = write_jsonl(tmp_path / "trivia.jsonl", generic_rows())
    out = tmp_path / "out"
    args = ["eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--concurrency", "1", "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "memento.agent.cli", *args],
        env=eval_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 180
        while len(results(out)) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        children = psutil.Process(process.pid).children(recursive=True)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(30)
    _, alive = psutil.wait_procs(children, timeout=30)  # the server sees its stdin close and ends
    for orphan in alive:
        orphan.kill()
    assert not alive, "a tool server outlived the killed eval"
    before = results(out)
    assert 2 <= len(before) < len(QUESTIONS)
    finished = {r["question"] for r in before}
    with (out / "results.jsonl").open("ab") as handle:
        handle.write(b'{"id": "torn')  # as if the kill had landed inside a write
    planned_before = Counter(responder.planned)

    wrong = memento(eval_env, *args, "--resume", "--iterations", "2")
    assert wrong.returncode == 1 and "other iterations" in wrong.stderr

    done = memento(eval_env, *args, "--resume")
    assert done.returncode == 0, done.stderr
    after = results(out)
    assert sorted(r["question"] for r in after) == sorted(QUESTIONS)  # none lost, none twice
    for question in finished:
        assert responder.planned[question] == planned_before[question] == 1  # nothing finished ran again
    assert json.loads((out / "config.json").read_text())["resumed"]
    assert json.loads((out / "summary.json").read_text())["accuracy"] == 1.0

    planned = sum(responder.planned.values())
    nothing_left = memento(eval_env, *args, "--resume")
    assert nothing_left.returncode == 0 and "has its result" in nothing_left.stderr
    assert sum(responder.planned.values()) == planned


@pytest.mark.integration
def test_the_leakage_guard_counts_tasks_already_in_memory_and_can_leave_them_out(
    tmp_path: Path, eval_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.responder = EvalResponder(dict(QUESTIONS))
    fake_anthropic.max_requests = 1000
    known = write_jsonl(
        tmp_path / "cases.jsonl", [{"case": "What's the capital city of France?", "plan": "1. Look it up", "case_label": "positive"}]
    )
    imported = memento(eval_env, "memory", "import", str(known))
    assert imported.returncode == 0, imported.stderr
    dataset = write_jsonl(tmp_path / "trivia.jsonl", generic_rows()[:3])
    base = ["eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--id-field", "qid"]

    excluded = memento(eval_env, *base, "--exclude-seen", "--no-learn", "--out", str(tmp_path / "excluded"))
    assert excluded.returncode == 0, excluded.stderr
    assert sorted(r["id"] for r in results(tmp_path / "excluded")) == ["q1", "q2"]

    counted = memento(eval_env, *base, "--out", str(tmp_path / "counted"))
    assert counted.returncode == 0, counted.stderr
    summary = json.loads((tmp_path / "counted" / "summary.json").read_text())
    assert summary["seen_in_memory"] == 1 and summary["tasks"] == 3
    assert [r["id"] for r in results(tmp_path / "counted") if r["seen"]] == ["q0"]


@pytest.mark.integration
def test_gaia_runs_with_its_attachments_and_rules_and_shards_merge_into_one_report(
    tmp_path: Path, eval_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    gaia = tmp_path / "gaia"
    gaia.mkdir()
    (gaia / "prices.csv").write_text("item,price\nbook,1000\n")
    rows = [
        {"task_id": "t1", "Question": "What does the book cost in the attached file?", "Final answer": "1000", "Level": 1, "file_name": "prices.csv"},
        {"task_id": "t2", "Question": "Name the first three primes.", "Final answer": "2, 3, 5", "Level": 2, "file_name": ""},
        {"task_id": "t3", "Question": "What colour is the sky?", "Final answer": "blue", "Level": 1, "file_name": ""},
    ]  # fmt: skip
    write_jsonl(gaia / "metadata.jsonl", rows)
    responder = EvalResponder({rows[0]["Question"]: "$1,000", rows[1]["Question"]: "2;3;5", rows[2]["Question"]: "green"})
    fake_anthropic.responder = responder
    fake_anthropic.max_requests = 1000
    shards = []
    for index in (1, 2):
        out = tmp_path / f"shard{index}"
        done = memento(eval_env, "eval", str(gaia), "--shard", f"{index}/2", "--memory", "none", "--out", str(out))
        assert done.returncode == 0, done.stderr
        shards.append(out)
    assert sorted(r["id"] for out in shards for r in results(out)) == ["t1", "t2", "t3"]
    by_id = {r["id"]: r for out in shards for r in results(out)}
    assert by_id["t1"]["correct"] is True and by_id["t2"]["correct"] is True and by_id["t3"]["correct"] is False
    assert set(by_id["t1"]["scores"]) == {"gaia"} and by_id["t1"]["level"] == "1"
    told = responder.shown[rows[0]["Question"]][0]
    assert "/prices.csv" in told and str(gaia) not in told  # told of the task's own copy, never of the dataset's folder

    merged = memento(eval_env, "eval", "report", *map(str, shards), "--out", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text())
    assert summary["n"] == 3 and summary["correct"] == 2 and summary["per_level"]["1"]["scored"] == 2


@pytest.mark.integration
def test_simpleqa_is_graded_with_three_grades_and_both_metrics(
    tmp_path: Path, eval_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    path = tmp_path / "simple_qa_test_set.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["metadata", "problem", "answer"])
        for question, truth in list(QUESTIONS.items())[:4]:
            writer.writerow(["{'topic': 'Trivia'}", question, truth])
    questions = list(QUESTIONS)
    answers = {questions[0]: "Paris", questions[1]: "Christopher Marlowe", questions[2]: "Au"}  # the fourth: "no idea"
    fake_anthropic.responder = EvalResponder(answers)
    fake_anthropic.max_requests = 1000
    out = tmp_path / "out"
    done = memento(eval_env, "eval", str(path), "--memory", "none", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    metrics = summary["scorers"]["simpleqa"]
    assert (metrics["correct"], metrics["incorrect"], metrics["not_attempted"]) == (2, 1, 1)
    assert metrics["overall_correct"] == 0.5 and metrics["accuracy_given_attempted"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["per_source"]["Trivia"]["n"] == 4


def test_bad_eval_arguments_get_one_clear_line(tmp_path: Path, eval_env: dict[str, str]) -> None:
    dataset = write_jsonl(tmp_path / "trivia.jsonl", generic_rows())
    for args, said in (
        (["--shard", "3/2"], "--shard"),
        (["--retry-failed"], "--resume"),
        (["--limit", "0"], "--limit"),
    ):
        done = memento(eval_env, "eval", str(dataset), "--question-field", "q", *args, "--out", str(tmp_path / "x"))
        assert done.returncode != 0 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    unknown = memento(eval_env, "eval", str(dataset), "--out", str(tmp_path / "y"))
    assert unknown.returncode == 1 and "--question-field" in unknown.stderr


@pytest.mark.integration
def test_the_eval_cost_cap_stops_new_tasks_and_resume_finishes_them(
    tmp_path: Path, eval_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.responder = EvalResponder(dict(QUESTIONS))
    fake_anthropic.max_requests = 1000
    dataset = write_jsonl(tmp_path / "trivia.jsonl", generic_rows()[:3])
    args = ["eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--memory", "none", "--concurrency", "1"]
    capped = memento(eval_env, *args, "--max-eval-cost", "0.000001", "--out", str(tmp_path / "out"))
    assert capped.returncode == 1 and "cost cap was reached" in capped.stderr and "2 task(s) did not run" in capped.stderr
    assert len(results(tmp_path / "out")) == 1 and (tmp_path / "out" / "summary.json").exists()
    finished = memento(eval_env, *args, "--resume", "--out", str(tmp_path / "out"))
    assert finished.returncode == 0, finished.stderr
    assert len(results(tmp_path / "out")) == 3
