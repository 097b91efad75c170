"""The case bank over real Chroma, embedded and as a `chroma run` server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memento.memory import CaseBank, CaseMemoryError, CaseNotFound, ImportFormatError, MemorySettings
from memento.memory.curation import prune
from memento.memory.interchange import export_jsonl, import_jsonl
from tests.memory_helpers import HashEmbedder, chroma_server

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory):
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def bank(request, tmp_path: Path):
    url = request.getfixturevalue("chroma_url") if request.param == "server" else ""
    settings = MemorySettings(home=tmp_path / "home", chroma_url=url, memory_online_steps=0)
    opened = CaseBank.open(settings, HashEmbedder())
    if url:  # one server serves every test of the module: start from empty collections
        for collection in (opened.store.cases, opened.store.transitions, opened.store.plans):
            ids = collection.get(include=[])["ids"]
            if ids:
                collection.delete(ids=ids)
    yield opened
    opened.close()


def test_writing_the_same_task_again_updates_its_case(bank: CaseBank) -> None:
    first = bank.record_episode("What is the capital of France?", ["guess"], "Lyon", 0.0)
    again = bank.record_episode("what is the  capital of France?", ["search the capital", "read"], "Paris", 1.0)
    assert again.case_id == first.case_id and not again.created and again.plan_replaced
    case = bank.get(first.case_id)
    assert bank.count() == 1
    assert case.attempts == 2 and case.reward == 1.0 and case.outcome == "positive"
    assert case.plan == ["search the capital", "read"] and case.answer == "Paris"
    assert case.mean_reward == pytest.approx(0.5)
    worse = bank.record_episode("What is the capital of France?", ["nothing"], "?", 0.0)
    assert not worse.plan_replaced and bank.get(first.case_id).plan == ["search the capital", "read"]


def test_a_near_duplicate_task_is_detected(bank: CaseBank) -> None:
    first = bank.record_episode("Who wrote the novel Frankenstein?", ["search"], "Mary Shelley", 1.0)
    near = bank.record_episode("Who wrote the novel Frankenstein ?!", ["search"], "Mary Shelley", 1.0)
    assert near.created and near.near_duplicate_of == first.case_id
    other = bank.record_episode("How tall is Mount Everest in metres?", ["search"], "8849", 1.0)
    assert other.near_duplicate_of is None


def test_retrieval_returns_the_nearest_cases_split_by_outcome(bank: CaseBank) -> None:
    bank.record_episode("What is the capital of France?", ["a"], "Paris", 1.0)
    bank.record_episode("What is the capital of Peru?", ["b"], "Lima", 0.0)
    bank.record_episode("How many legs does a spider have?", ["c"], "8", 1.0)
    found = bank.retrieve("What is the capital of Spain?", k=2)
    assert found.policy == "similarity"
    assert {s.case.task for s in found.cases} == {"What is the capital of France?", "What is the capital of Peru?"}
    assert [s.case.outcome for s in found.positive] == ["positive"] and [s.case.outcome for s in found.negative] == ["negative"]
    assert all(-1.0 <= s.score <= 1.0 for s in found.cases)


def test_an_empty_bank_retrieves_nothing(bank: CaseBank) -> None:
    assert bank.retrieve("anything at all").cases == []


def test_shown_cases_get_transitions_and_usage_counts(bank: CaseBank) -> None:
    helper = bank.record_episode("What is the capital of France?", ["a"], "Paris", 1.0)
    run = bank.record_episode("What is the capital of Chile?", ["b"], "Santiago", 1.0, shown_case_ids=[helper.case_id])
    assert run.transitions == 1
    shown = bank.get(helper.case_id)
    assert shown.uses == 1 and shown.successes == 1
    assert [t.case_id for t in bank.iter_transitions()] == [helper.case_id]


def test_late_feedback_corrects_the_run_its_case_and_the_shown_cases(bank: CaseBank) -> None:
    helper = bank.record_episode("What is the capital of France?", ["a"], "Paris", 1.0)
    run = bank.record_episode("What is the capital of Chile?", ["b"], "Lima", 1.0, shown_case_ids=[helper.case_id])
    result = bank.feedback(run.run_id, 0.0)
    assert result == {"cases": [run.case_id], "transitions": 1}
    assert bank.get(run.case_id).outcome == "negative"
    assert bank.get(helper.case_id).successes == 0
    assert [t.reward for t in bank.iter_transitions()] == [0.0]
    bank.feedback(helper.case_id, 0.25)
    assert bank.get(helper.case_id).reward == 0.25
    with pytest.raises(CaseNotFound):
        bank.feedback("run-does-not-exist", 1.0)


def test_bad_writes_are_refused_with_reasons(bank: CaseBank) -> None:
    with pytest.raises(CaseMemoryError, match="between 0 and 1"):
        bank.record_episode("task", ["a"], "x", 1.5)
    with pytest.raises(CaseMemoryError, match="empty"):
        bank.record_episode("   ", ["a"], "x", 1.0)
    assert bank.count() == 0


def test_the_reference_memory_file_imports_with_labels_and_plans(bank: CaseBank, tmp_path: Path) -> None:
    lines = (REFERENCE / "memory.jsonl").read_text().splitlines()[:40]
    source = tmp_path / "memory.jsonl"
    source.write_text("\n".join(lines) + "\n")
    done = import_jsonl(bank, source)
    assert done == {"format": "memory", "cases": 40, "transitions": 0}
    rows = [json.loads(line) for line in lines]
    case = next(c for c in bank.iter_cases() if c.task == rows[3]["case"])
    assert case.outcome == rows[3]["case_label"]
    assert case.plan == [step["description"] for step in json.loads(rows[3]["plan"])["plan"]]


def test_the_reference_training_file_imports_cases_and_transitions(bank: CaseBank, tmp_path: Path) -> None:
    lines = (REFERENCE / "training_data.jsonl").read_text().splitlines()[:32]  # 4 queries x 8 cases
    source = tmp_path / "training.jsonl"
    source.write_text("\n".join(lines) + "\n")
    done = import_jsonl(bank, source)
    rows = [json.loads(line) for line in lines]
    assert done["format"] == "training"
    assert done["cases"] == len({r["case"] for r in rows})
    unique = {(r["query"], r["case"]) for r in rows}
    assert done["transitions"] == len(unique)
    rewards = {t.task: t.reward for t in bank.iter_transitions()}
    assert rewards[rows[0]["query"]] == float(rows[0]["truth_label"])


def test_export_then_import_gives_back_the_same_bank(bank: CaseBank, tmp_path: Path) -> None:
    helper = bank.record_episode("What is the capital of France?", ["a", "b"], "Paris", 1.0, summary="searched", tools=["web_search"])
    bank.record_episode("What is the capital of Chile?", ["c"], "Santiago", 0.5, shown_case_ids=[helper.case_id], source="gaia")
    dump = tmp_path / "bank.jsonl"
    export_jsonl(bank, dump, "memento")
    restored = CaseBank.open(MemorySettings(home=tmp_path / "other", memory_online_steps=0), HashEmbedder())
    import_jsonl(restored, dump)
    key = lambda c: c.id  # noqa: E731
    assert sorted(bank.iter_cases(), key=key) == sorted(restored.iter_cases(), key=key)
    assert sorted(bank.iter_transitions(), key=lambda t: t.id) == sorted(restored.iter_transitions(), key=lambda t: t.id)
    again = tmp_path / "again.jsonl"
    export_jsonl(restored, again, "memento")
    assert sorted(dump.read_text().splitlines()) == sorted(again.read_text().splitlines())


def test_a_malformed_import_names_the_line_and_field_and_writes_nothing(bank: CaseBank, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    good = json.dumps({"case": "What is 2+2?", "plan": '{"plan": []}', "case_label": "positive"})
    bad = json.dumps({"case": "What is 3+3?", "plan": "", "case_label": "maybe"})
    source.write_text(f"{good}\n{good}\n{bad}\n")
    with pytest.raises(ImportFormatError) as caught:
        import_jsonl(bank, source)
    assert caught.value.line == 3 and caught.value.field == "case_label"
    assert "line 3" in str(caught.value) and "Nothing was imported" in str(caught.value)
    assert bank.count() == 0
    source.write_text(f"{good}\n{{not json\n")
    with pytest.raises(ImportFormatError, match="line 2"):
        import_jsonl(bank, source)


def test_pruning_drops_near_duplicates_and_keeps_the_most_useful_cases(bank: CaseBank) -> None:
    useful = bank.record_episode("Who painted the Mona Lisa?", ["search"], "Leonardo", 1.0)
    bank.record_episode("Who painted the Mona Lisa ?", ["search"], "Leonardo", 0.0)
    for n, task in enumerate(["How deep is Lake Baikal?", "When did Rome fall?", "What is the boiling point of ethanol?"]):
        bank.record_episode(task, ["x"], "y", 1.0 if n == 0 else 0.0, shown_case_ids=[useful.case_id])
    report = prune(bank, max_cases=2, duplicate_threshold=0.95)
    assert report.before == 5 and len(report.duplicates) == 1 and report.after == 2
    kept = {c.task for c in bank.iter_cases()}
    assert "Who painted the Mona Lisa?" in kept and "Who painted the Mona Lisa ?" not in kept
    assert bank.count() == 2


def test_a_bank_built_with_another_embedder_refuses_to_open(tmp_path: Path) -> None:
    settings = MemorySettings(home=tmp_path / "home")
    CaseBank.open(settings, HashEmbedder()).record_episode("task one", ["a"], "b", 1.0)

    class Other(HashEmbedder):
        name = "another-model"

    with pytest.raises(CaseMemoryError, match="another-model"):
        CaseBank.open(settings, Other())


def test_selection_explores_with_softmax_and_is_greedy_otherwise() -> None:
    from memento.memory.policy import select

    scores = np.array([0.9, 0.1, 0.5, 0.3], dtype=np.float32)
    assert select(scores, 2) == [0, 2]
    rng = np.random.default_rng(0)
    draws = [tuple(select(scores, 1, explore=True, temperature=0.2, rng=rng)) for _ in range(500)]
    shares = {i: draws.count((i,)) / 500 for i in range(4)}
    assert shares[0] > shares[2] > shares[3] > shares[1] > 0


def test_the_q_policy_learns_online_and_takes_over_from_similarity(tmp_path: Path) -> None:
    bank = CaseBank.open(MemorySettings(home=tmp_path / "home", memory_online_steps=3), HashEmbedder())
    helpful = bank.record_episode("How long is the river Nile in kilometres?", ["search length", "cite"], "6650", 1.0)
    useless = bank.record_episode("How long is the river Amazon in kilometres?", ["guess"], "?", 0.0)
    assert bank.retrieve("How long is the river Danube?", policy="q").policy == "similarity"  # not trained yet
    for n in range(40):  # episodes that followed one case each: those that followed the helpful one succeed
        shown = [helpful.case_id] if n % 2 else [useless.case_id]
        task = f"How long is river number {n} in kilometres?"
        bank.record_episode(task, ["x"], "y", float(n % 2), shown_case_ids=shown, followed_case_ids=shown)
    found = bank.retrieve("How long is the river Danube in kilometres?", k=50, policy="q")
    assert found.policy == "q"
    scores = {s.case.id: s.score for s in found.cases}
    assert scores[helpful.case_id] > scores[useless.case_id]
    report = bank.train()
    assert report["transitions"] == 40 and report["version"] >= 1
    described = bank.stats()["q_policy"]
    assert described["trained"] is True
    versions = sorted((tmp_path / "home" / "casebank" / "policy").glob("q-v*.bin"))
    assert 1 <= len(versions) <= 5  # older versions are pruned
    history = described["history"]  # every version's facts, newest first, kept past the pruning
    assert [v["version"] for v in history] == list(range(report["version"], max(0, report["version"] - 20), -1))
    assert history[0]["trained_on"] == 40 and history[-1]["transitions_seen"] < history[0]["transitions_seen"]
    explored = bank.retrieve("How long is the river Danube in kilometres?", k=1, policy="q", explore=True, rng=np.random.default_rng(1))
    assert len(explored.cases) == 1
    bank.close()


def test_a_q_version_saved_by_another_process_is_picked_up(tmp_path: Path) -> None:
    from memento.memory.policy import QPolicy

    rng = np.random.default_rng(0)
    rows = [(rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32), {"uses": 1.0}, float(i % 2)) for i in range(40)]
    reader, writer = QPolicy(tmp_path / "policy"), QPolicy(tmp_path / "policy")
    assert not reader.ready()
    writer.fit(rows)
    assert reader.ready()
    first = reader._loaded_version
    writer.fit(rows[::-1])  # a new version, same size of pointer file, within the same moment
    assert reader.ready() and reader._loaded_version == first + 1


def test_a_save_naming_an_unknown_shown_case_is_refused_before_anything_is_written(bank: CaseBank) -> None:
    helper = bank.record_episode("What is the capital of France?", ["a"], "Paris", 1.0)
    unknown = [f"case-{n:020d}" for n in range(30)]
    with pytest.raises(CaseNotFound, match="case-00000000000000000000") as caught:
        bank.record_episode("What is the capital of Chile?", ["b"], "Santiago", 1.0, shown_case_ids=[helper.case_id, *unknown])
    assert "30 case(s)" in str(caught.value) and "Nothing was saved" in str(caught.value)
    assert bank.count() == 1 and bank.store.transitions.count() == 0
    assert bank.get(helper.case_id).uses == 0
    later = bank.record_episode("What is the capital of Chile?", ["b"], "Santiago", 1.0, shown_case_ids=[helper.case_id])
    assert later.transitions == 1 and bank.get(helper.case_id).uses == 1


def test_transitions_whose_cases_are_gone_do_not_block_later_saves(tmp_path: Path) -> None:
    from memento.memory import Transition

    with CaseBank.open(MemorySettings(home=tmp_path / "home", memory_online_steps=3), HashEmbedder()) as bank:
        # What an older version left behind after a save with unknown shown ids: transitions to no case.
        bank.put_transitions([Transition("run-old", "an old task", f"case-{n:020d}", 1.0) for n in range(200)])
        done = bank.record_episode("What is the capital of Chile?", ["b"], "Santiago", 1.0, shown_case_ids=[])
        assert done.created
        helper = bank.record_episode("What is the capital of France?", ["a"], "Paris", 1.0)
        again = bank.record_episode("What is the capital of Peru?", ["c"], "Lima", 1.0, shown_case_ids=[helper.case_id])
        assert again.transitions == 1 and again.q_updated


def test_an_oversized_case_is_refused_naming_the_field_and_its_limit(bank: CaseBank) -> None:
    attempts = {
        "task": {"task": "t" * 10_001},
        "answer": {"answer": "a" * 5_000_000},
        "plan": {"plan": [f"step {n}" for n in range(2_000)]},
        "summary": {"summary": "s" * 4_001},
        "tools": {"tools": ["web_search"] * 101},
    }
    for field_name, oversized in attempts.items():
        episode = {"task": "How tall is the Eiffel Tower?", "plan": ["search"], "answer": "330 m", "reward": 1.0, **oversized}
        with pytest.raises(CaseMemoryError, match=f"case's {field_name} .*MEMENTO_MEMORY_MAX_.*Nothing was saved"):
            bank.record_episode(**episode)
    with pytest.raises(CaseMemoryError, match="MEMENTO_MEMORY_MAX_PLAN_CHARS"):
        bank.record_episode("How tall is the Eiffel Tower?", ["x" * 15_000, "y" * 15_000], "330 m", 1.0)
    assert bank.count() == 0


def test_a_retrieval_stays_within_its_budget_even_over_cases_stored_before_the_limits(tmp_path: Path) -> None:
    from memento.memory import Case

    settings = MemorySettings(home=tmp_path / "home", memory_online_steps=0)
    with CaseBank.open(settings, HashEmbedder()) as bank:
        huge = [
            Case(f"What is the population of city {n}?", [f"step {i} " * 20 for i in range(2_000)], "z" * 5_000_000, 1.0) for n in range(8)
        ]
        bank.put_cases(huge)  # as an import from before the limits would have stored them
        found = bank.retrieve("What is the population of city 3?", k=8)
        shown = sum(len(s.case.task) + len(s.case.answer) + sum(map(len, s.case.plan)) for s in found.cases)
        assert shown <= settings.memory_max_retrieved_chars + 1_000  # the budget, plus the "not shown" markers
        assert found.cases and found.omitted == 8 - len(found.cases) and found.omitted > 0
        best = found.cases[0].case
        assert best.answer.endswith("more characters not shown: over the memory's limit]")
        assert "more steps not shown" in best.plan[-1]
        assert bank.get(best.id).answer == "z" * 5_000_000  # reading clips the copy, never the stored case


def test_an_import_with_an_oversized_case_names_its_line_and_writes_nothing(bank: CaseBank, tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    good = {"kind": "case", "task": "What is 2+2?", "plan": ["add"], "answer": "4", "reward": 1.0}
    source.write_text(json.dumps(good) + "\n" + json.dumps({**good, "task": "What is 3+3?", "answer": "6" * 30_000}) + "\n")
    with pytest.raises(ImportFormatError) as caught:
        import_jsonl(bank, source)
    assert caught.value.line == 2 and caught.value.field == "answer" and "MEMENTO_MEMORY_MAX_ANSWER_CHARS" in str(caught.value)
    assert bank.count() == 0


def test_feedback_by_case_id_reaches_the_transitions_of_the_run_whose_plan_it_holds(bank: CaseBank) -> None:
    helper = bank.record_episode("What is the capital of France?", ["a"], "Paris", 1.0)
    run = bank.record_episode("What is the capital of Chile?", ["b"], "Lima", 1.0, shown_case_ids=[helper.case_id])
    assert bank.feedback(run.case_id, 0.0) == {"cases": [run.case_id], "transitions": 1}
    assert [t.reward for t in bank.iter_transitions()] == [0.0]
    assert bank.get(helper.case_id).successes == 0
    case = bank.get(run.case_id)
    assert case.reward == 0.0 and case.mean_reward == 0.0 and case.outcome == "negative"


def test_feedback_for_a_run_whose_plan_was_not_kept_corrects_only_the_mean(bank: CaseBank) -> None:
    task = "How many moons does Mars have?"
    kept = bank.record_episode(task, ["search moons", "count"], "2", 0.6)
    worse = bank.record_episode(task, ["guess"], "3", 0.2)
    assert not worse.plan_replaced and bank.get(kept.case_id).mean_reward == pytest.approx(0.4)
    bank.feedback(worse.run_id, 0.0)
    case = bank.get(kept.case_id)
    assert case.reward == 0.6 and case.plan == ["search moons", "count"] and case.outcome == "positive"
    assert case.mean_reward == pytest.approx(0.3)
    bank.feedback(kept.run_id, 1.0)
    case = bank.get(kept.case_id)
    assert case.reward == 1.0 and case.mean_reward == pytest.approx(0.5)


def test_train_and_q_retrieval_wait_for_the_same_number_of_transitions(tmp_path: Path) -> None:
    settings = MemorySettings(home=tmp_path / "home", memory_online_steps=1, memory_min_transitions=10)
    with CaseBank.open(settings, HashEmbedder()) as bank:
        helper = bank.record_episode("How long is the river Nile?", ["search"], "6650 km", 1.0)
        for n in range(9):
            bank.record_episode(
                f"How long is river number {n}?",
                ["x"],
                "y",
                float(n % 2),
                shown_case_ids=[helper.case_id],
                followed_case_ids=[helper.case_id],
            )
        assert bank.retrieve("How long is the river Danube?", policy="q").policy == "similarity"
        with pytest.raises(CaseMemoryError, match=r"at least 10 .*MEMENTO_MEMORY_MIN_TRANSITIONS"):
            bank.train()
        bank.record_episode(
            "How long is river number 9?", ["x"], "y", 1.0, shown_case_ids=[helper.case_id], followed_case_ids=[helper.case_id]
        )
        assert bank.retrieve("How long is the river Danube?", policy="q").policy == "q"
        assert bank.train()["transitions"] == 10
    with CaseBank.open(MemorySettings(home=tmp_path / "other", memory_online_steps=0), HashEmbedder()) as bank:
        helper = bank.record_episode("How long is the river Nile?", ["search"], "6650 km", 1.0)
        for n in range(8):  # enough for the old train(), not for q retrieval's default of 32
            bank.record_episode(
                f"How long is river number {n}?", ["x"], "y", 1.0, shown_case_ids=[helper.case_id], followed_case_ids=[helper.case_id]
            )
        with pytest.raises(CaseMemoryError, match="at least 32"):
            bank.train()


def test_a_seeded_bank_rehearses_the_same_replay_samples(tmp_path: Path) -> None:
    def samples(seed: int) -> list[list[str]]:
        settings = MemorySettings(home=tmp_path / f"seed-{seed}-{len(list(tmp_path.iterdir()))}", memory_online_steps=0)
        with CaseBank.open(settings, HashEmbedder(), rng=np.random.default_rng(seed)) as bank:
            shown = [bank.record_episode(f"shown task {i}", ["look"], "x", 1.0).case_id for i in range(3)]
            for i in range(40):  # 120 transitions: more than one replay sample of 64 holds
                bank.record_episode(
                    f"task {i}", ["a"], "b", float(i % 2), shown_case_ids=shown, followed_case_ids=shown, run_id=f"run-{i:04d}"
                )
            return [[row[0].tobytes().hex()[:16] + str(row[3]) for row in bank.learning.replay_sample(8)] for _ in range(3)]

    assert samples(7) == samples(7)
    assert samples(7) != samples(8)
