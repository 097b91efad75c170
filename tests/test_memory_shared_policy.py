"""The Q-policy of a bank on a Chroma server is shared: every client (process, machine) learns into one
versioned policy kept beside the cases, and no client's update is lost when two publish at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memento.memory import CaseBank, MemorySettings
from memento.memory.versions import KEEP_VERSIONS, ChromaVersions
from tests.memory_helpers import HashEmbedder, chroma_server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory):
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def _client(home: Path, url: str, **extra: object) -> CaseBank:
    options: dict[str, object] = {"memory_online_steps": 2, "memory_policy_refresh_s": 0, **extra}
    settings = MemorySettings(home=home, chroma_url=url, **options)  # type: ignore[arg-type]
    return CaseBank.open(settings, HashEmbedder())


def _empty(bank: CaseBank) -> None:
    """One server serves the module: each test starts from empty collections."""
    for collection in (bank.store.cases, bank.store.transitions, bank.store.policy):
        ids = collection.get(include=[])["ids"]
        if ids:
            collection.delete(ids=ids)


def test_a_second_client_ranks_with_what_the_first_one_learned(chroma_url: str, tmp_path: Path) -> None:
    with _client(tmp_path / "machine-a", chroma_url) as first, _client(tmp_path / "machine-b", chroma_url) as second:
        _empty(first)
        helpful = first.record_episode("How long is the river Nile in kilometres?", ["search length", "cite"], "6650", 1.0)
        useless = first.record_episode("How long is the river Amazon in kilometres?", ["guess"], "?", 0.0)
        for n in range(40):
            shown = [helpful.case_id] if n % 2 else [useless.case_id]
            first.record_episode(
                f"How long is river number {n} in kilometres?", ["x"], "y", float(n % 2), shown_case_ids=shown, followed_case_ids=shown
            )
        query = "How long is the river Danube in kilometres?"
        mine, theirs = first.retrieve(query, k=50, policy="q"), second.retrieve(query, k=50, policy="q")
        assert theirs.policy == "q"  # machine b never recorded anything, yet uses the learned policy
        assert {s.case.id: s.score for s in theirs.cases} == {s.case.id: s.score for s in mine.cases}
        assert second.q.describe()["transitions_seen"] == 40
        second.record_episode(
            "How long is the river Rhine in kilometres?",
            ["x"],
            "y",
            1.0,
            shown_case_ids=[helpful.case_id],
            followed_case_ids=[helpful.case_id],
        )
        assert first.q.describe()["transitions_seen"] == 41  # and the first learns from the second's episode
        assert first.q.ready() and first.q._loaded_version == second.q._loaded_version
    assert not (tmp_path / "machine-a" / "casebank" / "policy").exists()  # nothing of the policy stays local


def test_a_publish_on_a_stale_version_loses_and_leaves_nothing(chroma_url: str, tmp_path: Path) -> None:
    with _client(tmp_path / "home", chroma_url) as bank:
        _empty(bank)
        one, two = (ChromaVersions(bank.store.policy, chroma_url, refresh_s=0) for _ in range(2))
        won = one.publish(-1, b"model one" * 1000, {"transitions_seen": 1})
        assert won is not None and won["version"] == 0
        assert two.publish(-1, b"model two", {"transitions_seen": 1}) is None  # both started from nothing: one wins
        assert two.head() == won and two.read(won) == b"model one" * 1000
        assert len(bank.store.policy.get(include=[])["ids"]) == 2  # the winner's head and its one part; no leftovers
        for n in range(1, 9):
            assert two.publish(n - 1, f"model {n}".encode(), {}) is not None
        heads = bank.store.policy.get(where={"kind": "head"}, include=["metadatas"])["metadatas"]
        assert sorted(h["version"] for h in heads) == list(range(9 - KEEP_VERSIONS, 9))


def test_two_processes_learning_at_once_on_one_chroma_server_lose_no_update(chroma_url: str, tmp_path: Path) -> None:
    with _client(tmp_path / "seed", chroma_url, memory_online_steps=0) as seed:
        _empty(seed)
        helpers = [
            seed.record_episode("How long is the river Nile?", ["search", "cite"], "6650 km", 1.0).case_id,
            seed.record_episode("How long is the river Amazon?", ["guess"], "?", 0.0).case_id,
        ]
    learners = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.memory_learner", str(tmp_path / name), chroma_url, name, "20", ",".join(helpers)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for name in ("alpha", "beta")
    ]
    for learner in learners:
        _, err = learner.communicate(timeout=300)
        assert learner.returncode == 0, err.decode()[-2000:]
    with _client(tmp_path / "third", chroma_url) as third:
        described = third.q.describe()
        assert described["transitions_seen"] == 2 * 20 * 2  # two clients × 20 episodes × 2 shown cases
        history = described["history"]  # the kept versions' facts, newest first, as every client sees them
        assert len(history) == 5 and history[0]["version"] == described["version"]
        assert [v["version"] for v in history] == sorted((v["version"] for v in history), reverse=True)
        assert third.retrieve("How long is the river Danube?", policy="q").policy == "q"
        assert third.store.transitions.count() == 80
