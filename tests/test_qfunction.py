"""The learned case-selection policy Q(s, c) and `eval-retriever`: it learns a signal, survives a
save/load round trip, learns online in milliseconds, and reports on the reference data's format."""

from __future__ import annotations

import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from memento.memory.errors import ImportFormatError
from memento.memory.evaluate import auc, load_reference, main, split_by_query
from memento.memory.qfeatures import entity_share
from memento.memory.qfunction import FEATURES, QFunction, QFunctionError, TrainingRow

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "training_data.jsonl"
DIM = 32


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic(rng: np.random.Generator, n_tasks: int, centres: np.ndarray, rates: np.ndarray) -> list[tuple]:
    """Tasks from topics with different success rates, 8 shown cases each; a case that
    succeeded itself helps a little. Rows are (task_emb, case_emb, stats, reward)."""
    rows = []
    for _ in range(n_tasks):
        topic = rng.integers(len(centres))
        task = unit(centres[topic] + 0.3 * rng.normal(size=DIM))
        for _ in range(8):
            case = unit(task + 0.8 * rng.normal(size=DIM))
            positive = float(rng.random() < 0.5)
            p = np.clip(rates[topic] + 0.1 * (positive - 0.5), 0, 1)
            reward = float(rng.random() < p)
            # As the bank counts them: each case was shown once, in this episode.
            stats = {"reward": positive, "uses": 1.0, "successes": reward, "plan_steps": 2.0}
            rows.append((task, case, stats, reward))
    return rows


@pytest.fixture
def topics() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return unit(rng.normal(size=(6, DIM))), np.array([0.05, 0.15, 0.3, 0.5, 0.7, 0.9])


@pytest.fixture
def trained(topics) -> QFunction:
    model = QFunction()
    model.fit(synthetic(np.random.default_rng(1), 120, *topics))
    return model


def unseen(rows: list[tuple]) -> list[tuple]:
    """The same rows as a bank would show them before the episode: no uses counted yet."""
    return [(task, case, {**stats, "uses": 0.0, "successes": 0.0}, reward) for task, case, stats, reward in rows]


def score_rows(model: QFunction, rows: list[tuple]) -> np.ndarray:
    return np.concatenate([model.score(task, case[None, :], [stats]) for task, case, stats, _ in rows])


def test_the_q_function_learns_which_tasks_succeed_from_synthetic_transitions(trained, topics) -> None:
    held_out = unseen(synthetic(np.random.default_rng(2), 60, *topics))
    result = auc(np.array([r[3] for r in held_out]), score_rows(trained, held_out))
    assert result > 0.75


def test_an_untrained_q_function_ranks_cases_by_similarity() -> None:
    rng = np.random.default_rng(0)
    task = unit(rng.normal(size=DIM))
    cases = unit(np.stack([task + s * rng.normal(size=DIM) for s in (0.1, 1.0, 3.0)]))
    scores = QFunction().score(task, cases, [{}, {}, {}])
    assert list(np.argsort(-scores)) == list(np.argsort(-(cases @ task)))


def test_save_then_load_gives_identical_scores(trained, topics, tmp_path: Path) -> None:
    rows = unseen(synthetic(np.random.default_rng(3), 10, *topics))
    path = tmp_path / "q.bin"
    trained.save(path)
    loaded = QFunction.load(path)
    assert np.array_equal(score_rows(trained, rows), score_rows(loaded, rows))
    assert loaded.transitions_seen == trained.transitions_seen


def test_a_file_that_is_not_a_q_function_is_refused_with_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "q.bin"
    path.write_bytes(b"not a model")
    with pytest.raises(QFunctionError, match="memento memory train"):
        QFunction.load(path)


def test_an_online_update_takes_milliseconds_and_moves_scores_towards_the_reward(trained, topics) -> None:
    rng = np.random.default_rng(4)
    centres, rates = topics
    hard = unit(centres[0] + 0.3 * rng.normal(size=DIM))  # a task from the topic that rarely succeeds
    cases = unit(hard + 0.8 * rng.normal(size=(8, DIM)))
    stats = [{"reward": 1.0, "uses": 1.0, "successes": 1.0, "plan_steps": 2.0}] * 8
    replay = synthetic(rng, 8, centres, rates)
    before = trained.score(hard, cases, stats)
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        trained.update([(hard, c, s, 1.0) for c, s in zip(cases, stats)] + replay, steps=5)
        durations.append(time.perf_counter() - started)
    assert statistics.median(durations) < 0.05  # milliseconds, with room for a busy machine
    after_success = trained.score(hard, cases, stats)
    assert np.all(after_success > before)
    trained.update([(hard, c, s, 0.0) for c, s in zip(cases, stats)], steps=5)
    assert np.all(trained.score(hard, cases, stats) < after_success)


def test_a_q_function_can_start_learning_online_without_a_full_fit(topics) -> None:
    rng = np.random.default_rng(5)
    rows = synthetic(rng, 4, *topics)
    model = QFunction()
    model.update(rows, steps=5)
    task, case, stats, reward = rows[0]
    first = model.score(task, case[None, :], [stats])
    assert model.trained and np.all(np.isfinite(first)) and 0 < first[0] < 1
    model.update([(task, case, stats, 1.0 - reward)] * 8, steps=5)
    moved = model.score(task, case[None, :], [stats])[0] - first[0]
    assert moved > 0 if reward == 0 else moved < 0


def test_a_full_task_memory_forgets_the_oldest_tasks_and_still_saves_and_loads(topics, tmp_path: Path) -> None:
    rows = synthetic(np.random.default_rng(6), 30, *topics)
    model = QFunction(max_tasks=8)
    model.fit(rows)
    model.update(synthetic(np.random.default_rng(7), 3, *topics))
    assert model.fit(rows)["tasks"] == 8
    model.save(tmp_path / "q.bin")
    loaded = QFunction.load(tmp_path / "q.bin")
    loaded.update(synthetic(np.random.default_rng(8), 3, *topics))  # reuses the oldest slots
    probe = unseen(rows[:8])
    assert np.all(np.isfinite(score_rows(loaded, probe)))
    assert np.array_equal(score_rows(model, probe), score_rows(QFunction.load(tmp_path / "q.bin"), probe))


def test_transitions_of_another_embedding_size_are_refused(trained) -> None:
    other = np.ones(DIM * 2) / np.sqrt(DIM * 2)
    with pytest.raises(QFunctionError, match="retrain"):
        trained.update([(other, other, {}, 1.0)])


def test_auc_counts_ties_as_half() -> None:
    assert auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8])) == 1.0
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert auc(np.array([1, 0, 0]), np.array([0.3, 0.3, 0.1])) == 0.75


def test_a_malformed_reference_row_is_named_by_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {"query": "q", "case": "c", "case_label": "positive", "plan": "{}", "truth_label": True}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "truth_label": "yes"}) + "\n")
    with pytest.raises(ImportFormatError, match=r"line 2, field 'truth_label'"):
        load_reference(path)


def test_a_split_by_query_never_puts_one_query_in_both_halves(tmp_path: Path) -> None:
    n_train, n_test = split_by_query(REFERENCE, tmp_path / "train.jsonl", tmp_path / "test.jsonl", seed=3)
    train = {r["query"] for r in load_reference(tmp_path / "train.jsonl")}
    test = {r["query"] for r in load_reference(tmp_path / "test.jsonl")}
    assert not train & test
    assert n_train + n_test == 7000
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.25


@pytest.mark.slow
def test_eval_retriever_prints_one_json_object_with_the_agreed_keys(tmp_path: Path, capsys) -> None:
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    n_train, n_test = split_by_query(REFERENCE, train, test, test_fraction=0.25, seed=0, max_queries=30)
    assert main(["--train", str(train), "--test", str(test), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"auc", "accuracy", "f1", "train_seconds", "n_train", "n_test"}
    assert (result["n_train"], result["n_test"]) == (n_train, n_test)
    assert 0.0 <= result["auc"] <= 1.0 and 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["f1"] <= 1.0
    assert result["train_seconds"] < 10


def test_a_task_shown_mostly_successful_cases_gets_a_higher_success_estimate(topics) -> None:
    rng = np.random.default_rng(9)
    centres = topics[0]
    # Tasks of one topic fail or succeed together with the cases shown for them: a case's record carries the signal.
    rows = []
    for _ in range(150):
        task = unit(centres[rng.integers(len(centres))] + 0.6 * rng.normal(size=DIM))
        easy = rng.random() < 0.5
        for _ in range(8):
            case = unit(task + 0.8 * rng.normal(size=DIM))
            shown, won = 10.0, float(rng.binomial(10, 0.8 if easy else 0.1))
            rows.append((task, case, {"reward": 1.0, "uses": shown + 1, "successes": won + easy, "plan_steps": 2.0}, float(easy)))
    model = QFunction()
    model.fit(rows)
    assert model.weights["set_rate"] > 0
    task = unit(centres[0] + 0.6 * rng.normal(size=DIM))
    cases = unit(task + 0.8 * rng.normal(size=(8, DIM)))
    record = [{"reward": 1.0, "uses": 10.0, "successes": float(s), "plan_steps": 2.0} for s in (8, 8, 9, 7, 8, 8, 2, 1)]
    poor = [{**r, "successes": 1.0} for r in record]
    mostly_successful = model.score(task, cases, record)
    mostly_failed = model.score(task, cases, poor)
    # The two cases with a poor record score higher among successful companions than among failed ones.
    assert np.all(mostly_successful[6:] > mostly_failed[6:])
    # Scoring the set at once or row by row as a batch gives the same estimates.
    assert np.allclose(model.score_many(np.repeat(task[None], 8, axis=0), cases, record), mostly_successful)


def test_the_task_text_feeds_the_estimate_and_a_missing_text_is_neutral(topics) -> None:
    rng = np.random.default_rng(10)
    rows: list[TrainingRow] = []
    for i in range(120):
        task = unit(rng.normal(size=DIM))
        many = i % 2 == 0  # questions that name many things fail more often
        text = "Which Band Did The Singer Of Blue Moon Join" if many else "what colour is the sky at noon today"
        reward = float(rng.random() < (0.2 if many else 0.7))
        for _ in range(4):
            rows.append(TrainingRow(task, unit(rng.normal(size=DIM)), {"reward": 1.0, "plan_steps": 1.0}, reward, task_text=text))
    model = QFunction()
    model.fit(rows)
    assert model.weights["task_entities"] < 0
    task, cases, stats = unit(rng.normal(size=DIM)), unit(rng.normal(size=(3, DIM))), [{"reward": 1.0}] * 3
    named = model.score(task, cases, stats, task_text="Who Founded The Company That Built Apollo")
    plain = model.score(task, cases, stats, task_text="how tall is a typical house in metres")
    unknown = model.score(task, cases, stats)
    assert np.all(named < unknown) and np.all(unknown < plain)
    assert entity_share("When did Paris host the Olympic Games") == 3 / 7


def test_an_archive_from_before_the_context_features_still_loads_and_scores_as_before(trained, topics, tmp_path: Path) -> None:
    rows = unseen(synthetic(np.random.default_rng(11), 5, *topics))
    # Rewrite a current archive as format 2 wrote it: three fewer combiner columns, the older version and feature list.
    with np.load(io.BytesIO(trained.to_bytes()), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(bytes(arrays["header"]).decode())
    old = len(FEATURES) - 3
    header |= {"version": 2, "features": list(FEATURES[:old])}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    for name in ("mean", "scale", "weights"):
        arrays[name] = arrays[name][:old]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (tmp_path / "old.bin").write_bytes(buffer.getvalue())
    loaded = QFunction.load(tmp_path / "old.bin")
    assert [loaded.weights[name] for name in FEATURES[old:]] == [0.0, 0.0, 0.0]
    expected = trained._weights.copy()
    trained._weights[old:] = 0.0  # what the old combiner computed: the same weights without the new columns
    assert np.allclose(score_rows(loaded, rows), score_rows(trained, rows))
    trained._weights = expected
    loaded.update(synthetic(np.random.default_rng(12), 2, *topics))  # and it goes on learning
    assert np.all(np.isfinite(score_rows(loaded, rows)))
