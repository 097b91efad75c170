"""The case bank's read snapshot: it answers as Chroma does, follows every write, and is never read stale."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from memento.memory import CaseBank, MemorySettings
from memento.memory import casebank as casebank_module
from memento.memory import journal as journal_module
from memento.memory.cases import Case
from memento.memory.curation import prune
from memento.memory.interchange import export_jsonl, import_jsonl
from tests.memory_helpers import HashEmbedder, chroma_server

ROOT = Path(__file__).resolve().parent.parent
DIMENSION = HashEmbedder.dimension


def _settings(home: Path, **overrides: object) -> MemorySettings:
    return MemorySettings(home=home, **{"memory_online_steps": 0, **overrides})


def _random_bank(home: Path, count: int, seed: int = 7) -> tuple[CaseBank, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
    cases = [Case(f"synthetic task {n}", [f"step {n}"], f"answer {n}", float(n % 2), source="test") for n in range(count)]
    bank = CaseBank.open(_settings(home), HashEmbedder())
    bank.put_cases(cases, embeddings=vectors)
    return bank, vectors


def _status(home: Path) -> str:
    return json.loads((home / "casebank" / "snapshot" / "state.json").read_text())["status"]


def _assert_snapshot_equals_chroma(bank: CaseBank) -> None:
    """Every case Chroma holds is in the snapshot with the same document, metadata, vector and plan vector, and no other."""
    got = bank.store.cases.get(include=["metadatas", "documents", "embeddings"])
    plans = bank.store.plans.get(include=["embeddings"])
    plan_of = {i: np.asarray(e, np.float32) for i, e in zip(plans["ids"], plans["embeddings"])}
    with bank.store.reading() as view:
        assert view is not None, "the snapshot is not current after the writes ended"
        assert view.live == len(got["ids"])
        slots = view.slots_of(got["ids"])
        assert set(slots) == set(got["ids"])
        order = [slots[i] for i in got["ids"]]
        rows = view.rows_of(order)
        assert [(r[0], r[1]) for r in rows] == list(zip(got["ids"], got["documents"]))
        for (_, _, mine), theirs in zip(rows, got["metadatas"]):
            assert mine.keys() == theirs.keys()
            for key, value in theirs.items():  # Chroma may hand a timestamp back one ulp off what it was given
                assert mine[key] == (pytest.approx(value, rel=1e-15) if isinstance(value, float) else value), key
        # Chroma sometimes hands a float32 back one ulp off the one it was given; nothing else may differ
        np.testing.assert_allclose(view.vectors(order), np.asarray(got["embeddings"], np.float32), rtol=1e-6, atol=1e-7)
        expected_plans = np.stack([plan_of.get(i, np.zeros(view.dimension, np.float32)) for i in got["ids"]])
        np.testing.assert_allclose(view.plan_vectors(order), expected_plans, rtol=1e-6, atol=1e-7)


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_snapshot_finds_the_same_nearest_cases_as_chroma(tmp_path: Path) -> None:
    # Chroma's HNSW index is approximate in general; on a few hundred cases its search is exhaustive in
    # practice, so the two must agree exactly here (at 100k they could differ, in Chroma's disfavour).
    bank, _ = _random_bank(tmp_path / "home", 400)
    with bank:
        queries = np.random.default_rng(1).normal(size=(25, DIMENSION)).astype(np.float32)
        for query in queries:
            for n in (1, 4, 10):
                chroma = bank.store.cases.query(query_embeddings=[query.tolist()], n_results=n, include=["distances"])
                with bank.store.reading() as view:
                    assert view is not None
                    mine = view.query(query, n)
                assert mine["ids"] == chroma["ids"][0]
                np.testing.assert_allclose(mine["distances"], chroma["distances"][0], atol=1e-5)


def test_past_the_scan_limit_a_process_with_chroma_open_reads_chroma_and_finds_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank, vectors = _random_bank(tmp_path / "home", 120)
    with bank:
        queries = [f"synthetic task {n}" for n in range(0, 120, 7)]
        scanned = [bank.retrieve(q, k=4, task_embedding=vectors[n * 7]).ids for n, q in enumerate(queries)]
        monkeypatch.setattr(casebank_module, "SCAN_ROWS", 100)
        asked: list[int] = []
        query = bank.store.cases.query

        def counted(**arguments: object) -> object:
            asked.append(1)
            return query(**arguments)

        monkeypatch.setattr(bank.store.cases, "query", counted)
        assert bank.store.is_open
        indexed = [bank.retrieve(q, k=4, task_embedding=vectors[n * 7]).ids for n, q in enumerate(queries)]
        assert indexed == scanned and len(asked) == len(queries)


def test_q_retrieval_ranks_the_same_from_the_snapshot_as_from_chroma(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bank = CaseBank.open(_settings(home, memory_min_transitions=4, memory_online_steps=3), HashEmbedder(), np.random.default_rng(3))
    with bank:
        topics = ["rivers of europe", "prime numbers", "french kings", "chemical elements", "moons of jupiter", "opera composers"]
        for n in range(36):
            shown = bank.retrieve(f"question {n} on {topics[n % 6]}", k=3).ids
            bank.record_episode(f"question {n} on {topics[n % 6]}", [f"look up {topics[n % 6]}"], "x", float(n % 3 == 0), shown)
        assert bank.q.ready()
        queries = [f"a new question on {topic}" for topic in topics]
        from_snapshot = [bank.retrieve(q, k=4, policy="q") for q in queries]
        assert all(r.policy == "q" for r in from_snapshot)
        (home / "casebank" / "snapshot" / "state.json").write_text(
            json.dumps({**json.loads((home / "casebank" / "snapshot" / "state.json").read_text()), "status": "broken"})
        )
        with bank.store.reading() as view:
            assert view is None
        from_chroma = [bank.retrieve(q, k=4, policy="q") for q in queries]
        for mine, theirs in zip(from_snapshot, from_chroma):
            assert mine.ids == theirs.ids
            np.testing.assert_allclose([s.score for s in mine.cases], [s.score for s in theirs.cases], atol=1e-5)


def test_every_kind_of_write_leaves_the_snapshot_equal_to_chroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "_COMPACT_BYTES", 4000)  # compact often, so compaction is exercised too
    home = tmp_path / "home"
    with CaseBank.open(_settings(home, memory_min_transitions=1), HashEmbedder()) as bank:
        first = bank.record_episode("Who painted the Mona Lisa?", ["search the painter"], "Leonardo", 1.0)
        second = bank.record_episode(
            "Who painted The Night Watch?", ["search"], "Rembrandt", 0.0, [first.case_id], followed_case_ids=[first.case_id]
        )
        bank.record_episode("Who painted the Mona Lisa?", ["search", "check a museum page"], "Leonardo da Vinci", 1.0)
        unrated = bank.record_episode("Who painted Guernica?", [], "Picasso", None, [first.case_id, second.case_id])
        bank.feedback(unrated.run_id, 1.0)
        bank.feedback(second.case_id, 1.0)
        bank.put_cases([Case(f"imported task {n}", [f"step {n}"], "a", 1.0, source="import") for n in range(30)])
        _assert_snapshot_equals_chroma(bank)
        bank.delete([second.case_id])
        bank.train()
        prune(bank, max_cases=25, duplicate_threshold=0.95)
        exported = tmp_path / "bank.jsonl"
        export_jsonl(bank, exported)
        bank.delete([c.id for c in bank.iter_cases()][:5])
        import_jsonl(bank, exported)
        bank.store.cases.update(ids=[first.case_id], metadatas=[{"source": "edited outside a write block"}])
        bank.store.cases.add(ids=[first.case_id], embeddings=[[0.5] * DIMENSION], documents=["ignored"], metadatas=[{"source": "no"}])
        _assert_snapshot_equals_chroma(bank)
        assert second.case_id not in bank.retrieve("Who painted The Night Watch?", k=10).ids


def test_a_write_in_another_process_is_seen_by_the_next_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with CaseBank.open(_settings(home), HashEmbedder()) as seed:
        seed.record_episode("How long is the river Danube?", ["search"], "2850 km", 1.0)
    reader = CaseBank.open(_settings(home), HashEmbedder())
    assert reader.count() == 1
    written = _python(
        """
        import sys
        from pathlib import Path
        from memento.memory import CaseBank, MemorySettings
        from tests.memory_helpers import HashEmbedder
        with CaseBank.open(MemorySettings(home=Path(sys.argv[1]), memory_online_steps=0), HashEmbedder()) as bank:
            print(bank.record_episode("How long is the river Rhine?", ["search"], "1233 km", 1.0).case_id)
        """,
        str(home),
    )
    assert written.returncode == 0, written.stderr[-2000:]
    found = reader.retrieve("How long is the river Rhine?", k=1)
    assert found.ids == [written.stdout.strip()] and reader.count() == 2
    assert reader.store._opened is None, "the reader opened Chroma although the snapshot was current"
    reader.close()


@pytest.mark.integration
def test_a_reader_beside_a_busy_writer_sees_every_acknowledged_case_and_never_half_a_patch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with CaseBank.open(_settings(home), HashEmbedder()) as seed:
        seed.record_episode("a seed task about topic 1", ["search"], "seed", 1.0)
    with subprocess.Popen(
        [sys.executable, "-m", "tests.memory_writer", str(home), "busy", "60"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        reader = CaseBank.open(_settings(home), HashEmbedder())
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        seen, counts = 0, []
        for line in writer.stdout:
            case_id = line.strip()
            assert reader.get(case_id).id == case_id  # acknowledged before this read began: it must be there
            counts.append(reader.count())
            found = reader.retrieve(f"busy task about topic {seen % 13}", k=4)
            assert len(found.cases) >= min(4, counts[-1])  # never fewer than the bank held a moment before
            seen += 1
        assert writer.wait(timeout=300) == 0, writer.stderr.read()[-2000:] if writer.stderr else ""
        assert seen == 60 and counts == sorted(counts) and counts[-1] == 61
    assert _status(home) == "current"
    reader.close()


@pytest.mark.integration
def test_a_reader_that_meets_a_write_under_way_waits_for_it_and_reads_the_snapshot_it_leaves(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with CaseBank.open(_settings(home), HashEmbedder()) as seed:
        seed.record_episode("Which ocean is the deepest?", ["search"], "Pacific", 1.0)
    holder = """
        import sys, time
        from pathlib import Path
        from memento.memory import CaseBank, MemorySettings
        from memento.memory.cases import Case
        from tests.memory_helpers import HashEmbedder
        bank = CaseBank.open(MemorySettings(home=Path(sys.argv[1]), memory_online_steps=0), HashEmbedder())
        with bank.store.writing():
            bank.put_cases([Case("Which sea is the saltiest?", ["search"], "Dead Sea", 1.0)])
            print("written", flush=True)
            time.sleep(2)  # the write is in Chroma; the snapshot is marked "writing" until the block ends
        """
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(holder), str(home)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written", writer.stderr
        assert _status(home) == "writing"
        read = _python(
            """
            import sys
            from pathlib import Path
            from memento.memory import CaseBank, MemorySettings
            from tests.memory_helpers import HashEmbedder
            bank = CaseBank.open(MemorySettings(home=Path(sys.argv[1])), HashEmbedder())
            print(bank.retrieve("Which sea is the saltiest?", k=1).cases[0].case.answer.replace(" ", "_"), "chromadb" in sys.modules)
            """,
            str(home),
        )
        assert writer.wait(timeout=60) == 0
    assert read.returncode == 0, read.stderr[-2000:]
    assert read.stdout.split() == ["Dead_Sea", "False"]


def test_a_write_that_fails_after_reaching_chroma_leaves_readers_on_chroma_until_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    bank = CaseBank.open(_settings(home), HashEmbedder())
    bank.record_episode("What is the boiling point of water?", ["search"], "100 C", 1.0)

    def crash(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("simulated crash after the Chroma writes")

    monkeypatch.setattr(bank.learning, "online_update", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        bank.record_episode("What is the melting point of iron?", ["search"], "1538 C", 1.0)
    assert _status(home) != "current"
    with bank.store.reading() as view:
        assert view is None
    assert "What is the melting point of iron?" in [s.case.task for s in bank.retrieve("melting point of iron", k=2).cases]
    other = _python(
        """
        import sys
        from pathlib import Path
        from memento.memory import CaseBank, MemorySettings
        from tests.memory_helpers import HashEmbedder
        bank = CaseBank.open(MemorySettings(home=Path(sys.argv[1]), memory_online_steps=0), HashEmbedder())
        print(bank.count(), bank.retrieve("melting point of iron", k=1).cases[0].case.task)
        """,
        str(home),
    )
    assert other.returncode == 0, other.stderr[-2000:]
    assert other.stdout.split(maxsplit=1) == ["2", "What is the melting point of iron?\n"]
    monkeypatch.undo()
    bank.record_episode("What is the density of gold?", ["search"], "19.3 g/cm3", 1.0)
    assert _status(home) == "current"
    _assert_snapshot_equals_chroma(bank)
    bank.close()


def test_a_writer_killed_between_chroma_and_the_snapshot_leaves_it_unread_and_the_next_open_rebuilds_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with CaseBank.open(_settings(home), HashEmbedder()) as bank:
        bank.record_episode("How many moons has Mars?", ["search"], "2", 1.0)
    killed = _python(
        """
        import os, sys
        from pathlib import Path
        from memento.memory import CaseBank, MemorySettings
        from tests.memory_helpers import HashEmbedder
        bank = CaseBank.open(MemorySettings(home=Path(sys.argv[1]), memory_online_steps=0), HashEmbedder())
        bank.learning.online_update = lambda *a, **k: os._exit(9)
        bank.record_episode("How many moons has Neptune?", ["search"], "16", 1.0)
        """,
        str(home),
    )
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert _status(home) == "writing"
    reader = CaseBank.open(_settings(home), HashEmbedder())
    assert reader.count() == 2  # from Chroma: the open found the snapshot stale and rebuilt it under the write lock
    assert _status(home) == "current"
    _assert_snapshot_equals_chroma(reader)
    reader.close()


def test_an_old_bank_without_a_snapshot_gets_one_when_opened_and_a_damaged_one_is_rebuilt_on_demand(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bank, _ = _random_bank(home, 50)
    bank.close()
    for path in (home / "casebank" / "snapshot").iterdir():
        path.unlink()
    with CaseBank.open(_settings(home), HashEmbedder()) as reopened:
        assert _status(home) == "current"
        _assert_snapshot_equals_chroma(reopened)
        (home / "casebank" / "snapshot" / "records.jsonl").write_bytes(b"")  # damaged behind the writers' back
        reopened.store.rebuild_snapshot()
        _assert_snapshot_equals_chroma(reopened)


def test_reading_a_current_snapshot_never_imports_chromadb(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with CaseBank.open(_settings(home, memory_min_transitions=2, memory_online_steps=3), HashEmbedder()) as bank:
        first = bank.record_episode("Which planet is the largest?", ["search"], "Jupiter", 1.0)
        for n in range(4):
            bank.record_episode(f"Which planet has rings, question {n}?", ["search"], "Saturn", 1.0, [first.case_id])
    read = _python(
        """
        import sys
        from pathlib import Path
        from memento.memory import CaseBank, MemorySettings
        from tests.memory_helpers import HashEmbedder
        bank = CaseBank.open(MemorySettings(home=Path(sys.argv[1]), memory_min_transitions=2), HashEmbedder())
        similar = bank.retrieve("Which planet is the largest?", k=2, policy="similarity")
        learned = bank.retrieve("Which planet is the largest?", k=2, policy="q")
        print(similar.cases[0].case.answer, learned.policy, bank.count(), bank.get(similar.ids[0]).answer)
        print("chromadb" in sys.modules)
        """,
        str(home),
    )
    assert read.returncode == 0, read.stderr[-2000:]
    assert read.stdout.split() == ["Jupiter", "q", "5", "Jupiter", "False"]


def test_a_new_bank_reads_empty_without_chromadb_and_its_first_write_is_read_back(tmp_path: Path) -> None:
    read = _python(
        """
        import sys
        from pathlib import Path
        from memento.memory import CaseBank, MemorySettings
        from tests.memory_helpers import HashEmbedder
        bank = CaseBank.open(MemorySettings(home=Path(sys.argv[1]), memory_online_steps=0), HashEmbedder())
        print(bank.count(), len(bank.retrieve("Where is Timbuktu?", k=2).cases), "chromadb" in sys.modules)
        bank.record_episode("Where is Timbuktu?", ["search"], "Mali", 1.0)
        """,
        str(tmp_path / "home"),
    )
    assert read.returncode == 0, read.stderr[-2000:]
    assert read.stdout.split() == ["0", "0", "False"]
    with CaseBank.open(_settings(tmp_path / "home"), HashEmbedder()) as bank:
        assert [s.case.answer for s in bank.retrieve("Where is Timbuktu?", k=2).cases] == ["Mali"]
        _assert_snapshot_equals_chroma(bank)


@pytest.mark.integration
def test_a_bank_on_a_chroma_server_never_uses_a_snapshot(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "server") as url:
        home = tmp_path / "home"
        with CaseBank.open(MemorySettings(home=home, chroma_url=url, memory_online_steps=0), HashEmbedder()) as bank:
            recorded = bank.record_episode("What is the tallest tree species?", ["search"], "coast redwood", 1.0)
            assert bank.store.snapshot is None
            with bank.store.reading() as view:
                assert view is None
            assert bank.retrieve("tallest tree", k=1).ids == [recorded.case_id]
        assert not (home / "casebank" / "snapshot").exists()


def test_opening_chroma_on_a_thread_while_the_first_write_begins_does_not_deadlock(tmp_path: Path) -> None:
    import threading

    bank = CaseBank.open(_settings(tmp_path), HashEmbedder())  # a fresh bank: Chroma not opened yet
    opener = threading.Thread(target=bank.store.open, daemon=True)  # as a run opens it while its model works
    case = Case("a task written while Chroma opens", ["step"], "answer", 1.0, source="test")
    writer = threading.Thread(target=bank.put_cases, args=([case],), daemon=True)
    opener.start()
    writer.start()
    opener.join(120)
    writer.join(120)
    assert not opener.is_alive() and not writer.is_alive(), "the opener and the writer wait for each other"
    assert bank.count() == 1
    bank.close()


def test_memory_repair_rebuilds_a_damaged_snapshot_from_chroma(memento_home: Path) -> None:
    from click.testing import CliRunner

    from memento.agent.cli import cli

    with CaseBank.open(MemorySettings.from_env()) as bank:
        bank.record_episode("Who painted the Mona Lisa?", ["search the painter"], "Leonardo", 1.0)
        bank.record_episode("Who wrote Hamlet?", ["search the author"], "Shakespeare", 0.0)
    records = memento_home / "casebank" / "snapshot" / "records.jsonl"
    records.write_bytes(b"")  # damaged behind the writers' back, still marked current
    assert _status(memento_home) == "current"
    done = CliRunner().invoke(cli, ["memory", "repair"], prog_name="memento")
    assert done.exit_code == 0, done.output
    assert "rebuilt the read snapshot from Chroma: 2 cases" in done.output
    with CaseBank.open(MemorySettings.from_env()) as reopened:
        _assert_snapshot_equals_chroma(reopened)
        assert {s.case.task for s in reopened.retrieve("Who painted The Night Watch?", k=2).cases} == {
            "Who painted the Mona Lisa?",
            "Who wrote Hamlet?",
        }
