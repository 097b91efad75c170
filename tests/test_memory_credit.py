"""Credit where it is due: followed cases learn from an episode, shown ones do not; unrated and self-assessed
runs; feedback that verifies them; replay, refits and exploration of the Q policy. Real embedded Chroma banks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from memento.memory import CaseBank, CaseMemoryError, MemorySettings
from memento.memory.policy import select
from tests.memory_helpers import HashEmbedder

SEARCH = ["search the census office for the city", "read the population figure"]
MEASURE = ["look up the coordinates of both cities", "compute the haversine distance"]


def open_bank(tmp_path: Path, **settings: object) -> CaseBank:
    values = {"home": tmp_path / "home", "memory_online_steps": 0, **settings}
    return CaseBank.open(MemorySettings(**values), HashEmbedder(), rng=np.random.default_rng(0))


def test_only_the_followed_case_takes_the_reward_into_its_record(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        good = bank.record_episode("How many people lived in Lyon in 1990?", SEARCH, "415,000", 1.0).case_id
        other = bank.record_episode("How far is Lyon from Porto in miles?", MEASURE, "900", 1.0).case_id
        run = bank.record_episode(
            "How many people lived in Porto in 1990?", SEARCH, "?", 0.0, shown_case_ids=[good, other], followed_case_ids=[good]
        )
        assert run.followed == [good]
        followed, shown = bank.get(good), bank.get(other)
        assert (followed.follows, followed.credit) == (1, pytest.approx(0.5))
        assert (shown.follows, shown.credit) == (0, pytest.approx(1.0))  # shown, not followed: its record is untouched
        assert shown.uses == 1  # but it still counts as shown
        kinds = {t.case_id: (t.followed, t.weight) for t in bank.iter_transitions()}
        assert kinds == {good: (True, 1.0), other: (False, 0.0)}


def test_when_the_planner_does_not_say_the_plans_similarity_decides_and_an_empty_list_means_none(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        search = bank.record_episode("How many people lived in Lyon in 1990?", SEARCH, "415,000", 1.0).case_id
        measure = bank.record_episode("How far is Lyon from Porto in miles?", MEASURE, "900", 1.0).case_id
        inferred = bank.record_episode("How many people lived in Graz in 2000?", SEARCH, "x", 1.0, shown_case_ids=[search, measure])
        assert inferred.followed == [search]  # the same plan text: followed; a different plan: not
        none = bank.record_episode(
            "How many people lived in Riga in 2000?", SEARCH, "x", 1.0, shown_case_ids=[search], followed_case_ids=[]
        )
        assert none.followed == []
        assert bank.get(search).follows == 1


def test_a_lucky_case_whose_followers_keep_failing_stops_being_positive(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        lucky = bank.record_episode("How far is Lyon from Porto in miles?", SEARCH, "900", 1.0).case_id
        assert bank.get(lucky).outcome == "positive"
        for n, city in enumerate(("Graz", "Riga")):
            task = f"How far is {city} from Porto in miles?"
            bank.record_episode(task, SEARCH, "?", 0.0, shown_case_ids=[lucky], followed_case_ids=[lucky], run_id=f"run-{n}")
        case = bank.get(lucky)
        assert case.credit == pytest.approx(1 / 3) and case.follows == 2
        assert case.outcome == "negative"
        found = bank.retrieve("How far is Lyon from Porto in miles?", k=1)
        assert [s.case.id for s in found.negative] == [lucky] and not found.positive


def test_the_same_task_failing_again_with_its_stored_plan_lowers_that_plans_record(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        first = bank.record_episode("How far is Lyon from Porto in miles?", SEARCH, "900", 1.0)
        again = bank.record_episode("How far is Lyon from Porto in miles?", SEARCH, "?", 0.0)
        assert not again.plan_replaced and again.followed == [first.case_id]
        assert bank.get(first.case_id).credit == pytest.approx(0.5)


def test_an_unrated_run_is_stored_unverified_teaches_nothing_and_feedback_verifies_it(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        helper = bank.record_episode("How many people lived in Lyon in 1990?", SEARCH, "415,000", 1.0).case_id
        run = bank.record_episode("How many people lived in Graz in 2000?", SEARCH, "260,000", None, shown_case_ids=[helper])
        assert run.reward_kind == "unrated"
        case = bank.get(run.case_id)
        assert case.outcome == "unverified" and case.reward_kind == "unrated"
        assert bank.get(helper).follows == 0 and bank.get(helper).uses == 0  # nothing counted before a reward
        assert [(t.kind, t.weight) for t in bank.iter_transitions()] == [("unrated", 0.0)]
        assert bank.learning.training_rows() == []  # Q learns nothing from it
        found = bank.retrieve("How many people lived in Graz in 2000?", k=2)
        assert [s.case.id for s in found.unverified] == [run.case_id]
        assert run.case_id not in [s.case.id for s in found.positive] and run.case_id in found.ids

        bank.feedback(run.run_id, 1.0)
        case, helped = bank.get(run.case_id), bank.get(helper)
        assert (case.outcome, case.reward_kind, case.reward) == ("positive", "verified", 1.0)
        assert (helped.follows, helped.uses, helped.successes, helped.credit) == (1, 1, 1, pytest.approx(1.0))
        assert [(t.kind, t.weight, t.reward) for t in bank.iter_transitions()] == [("verified", 1.0, 1.0)]


def test_a_self_assessed_reward_weighs_less_than_a_verified_one_until_feedback_overrides_it(tmp_path: Path) -> None:
    with open_bank(tmp_path, memory_self_assessed_weight=0.25) as bank:
        lucky = bank.record_episode("How far is Lyon from Porto in miles?", SEARCH, "900", 1.0).case_id
        run = bank.record_episode(
            "How far is Graz from Porto in miles?", SEARCH, "?", 0.0, shown_case_ids=[lucky], reward_kind="self-assessed"
        )
        assert bank.get(run.case_id).reward_kind == "self-assessed"
        assert bank.get(lucky).credit == pytest.approx(1.0 / 1.25)  # one verified 1, one self-assessed 0 at a quarter
        assert [(t.kind, t.weight) for t in bank.iter_transitions()] == [("self-assessed", 0.25)]
        bank.feedback(run.run_id, 0.0)
        assert bank.get(lucky).credit == pytest.approx(0.5)  # now a verified failure: full weight
        assert bank.get(run.case_id).reward_kind == "verified"
        with pytest.raises(CaseMemoryError, match="reward=None"):
            bank.record_episode("task", ["a"], "x", 1.0, reward_kind="unrated")


def test_replay_draws_uniformly_from_the_whole_history_without_repeats(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        helper = bank.record_episode("How many people lived in Lyon in 1990?", SEARCH, "415,000", 1.0).case_id
        towns = (
            "Porto Krakow Utrecht Bergen Graz Seville Turin Ghent Aarhus Tampere Brno Leipzig Bilbao Cork Malmo Lille Basel Split Riga Oslo"
        )
        for n, town in enumerate(towns.split()):
            task = f"How many people lived in {town}?"
            bank.record_episode(task, SEARCH, "x", float(n % 2), shown_case_ids=[helper], followed_case_ids=[helper], run_id=f"run-{n:03d}")
        counts: Counter[str] = Counter()
        for _ in range(400):
            sample = bank.learning.replay_ids(5)
            assert len(sample) == 5 and len(set(sample)) == 5  # no transition twice in one sample
            counts.update(sample)
        assert len(counts) == 20  # every part of the history is rehearsed, old and new alike
        assert len(bank.learning.replay_sample(5)) == 5  # and read as training rows
        assert max(counts.values()) < 2 * min(counts.values())  # 100 expected each


def test_q_refits_itself_after_the_configured_number_of_new_transitions(tmp_path: Path) -> None:
    with open_bank(tmp_path, memory_online_steps=2, memory_refit_every=8, memory_min_transitions=4) as bank:
        helper = bank.record_episode("How many people lived in Lyon in 1990?", SEARCH, "415,000", 1.0).case_id
        for n in range(7):
            bank.record_episode(
                f"How many people lived in town {n}?", SEARCH, "x", 1.0, shown_case_ids=[helper], followed_case_ids=[helper]
            )
        assert bank.learning.refits == 0 and bank.q.since_fit == 7
        bank.record_episode("How many people lived in town 7?", SEARCH, "x", 0.0, shown_case_ids=[helper], followed_case_ids=[helper])
        assert bank.learning.refits == 1 and bank.q.since_fit == 0
        assert bank.q.describe()["transitions_seen"] == 8


def test_exploration_draws_cases_in_proportion_to_exp_of_score_over_temperature() -> None:
    scores = np.array([0.9, 0.6, 0.3])
    rng = np.random.default_rng(11)
    draws = Counter(select(scores, 1, explore=True, temperature=0.2, rng=rng)[0] for _ in range(6000))
    expected = np.exp(scores / 0.2) / np.exp(scores / 0.2).sum()
    observed = np.array([draws[i] for i in range(3)]) / 6000
    assert np.allclose(observed, expected, atol=0.02)
    assert select(scores, 2) == [0, 1]  # greedy: the top k, best first


def test_a_retrieval_says_which_temperature_and_q_version_chose_it(tmp_path: Path) -> None:
    with open_bank(tmp_path) as bank:
        bank.record_episode("How many people lived in Lyon in 1990?", SEARCH, "415,000", 1.0)
        assert bank.retrieve("people in Lyon").temperature is None
        explored = bank.retrieve("people in Lyon", explore=True, temperature=0.3, rng=np.random.default_rng(0))
        assert explored.temperature == 0.3 and explored.q_version is None  # similarity chose: no Q version


def test_q_learns_to_prefer_the_right_plan_where_similarity_is_fooled_by_a_lucky_case(tmp_path: Path) -> None:
    with open_bank(tmp_path, memory_online_steps=5, memory_min_transitions=8) as bank:
        query = "How far is Lyon from Porto in miles?"
        lucky = bank.record_episode("How far is Lyon from Porto in kilometres?", SEARCH, "1400", 1.0).case_id
        right = bank.record_episode("What distance separates Bergen and Cork?", MEASURE, "1100", 1.0).case_id
        rng = np.random.default_rng(3)
        for n in range(30):  # distance tasks: following the measuring plan mostly works, the census plan mostly fails
            task = f"How far is town {n} from Porto in miles?"
            follow = [lucky, right][n % 2]
            works = rng.random() < (0.8 if follow == right else 0.1)
            plan = MEASURE if follow == right else SEARCH
            bank.record_episode(task, plan, "x", float(works), shown_case_ids=[lucky, right], followed_case_ids=[follow])
        near = {s.case.id: s.similarity for s in bank.retrieve(query, k=50, policy="similarity").cases}
        assert near[lucky] > near[right]  # the nearer task, but the wrong plan
        by_q = bank.retrieve(query, k=50, policy="q")
        assert by_q.policy == "q" and isinstance(by_q.q_version, int)
        # Q's score is similarity plus what the evidence near this task earned (memory/ranking.py): the measuring plan
        # gains; the lucky case, a failure now, gains as a warning of a plan that fails here; the first example follows it.
        gained = {s.case.id: s.score - near[s.case.id] for s in by_q.cases}
        assert gained[right] > 0.05 and gained[lucky] > 0
        assert bank.retrieve(query, k=4, policy="q").positive[0].case.plan == MEASURE
