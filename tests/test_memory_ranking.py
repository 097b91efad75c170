"""How retrieval ranks with Q: cosine similarity plus a correction that only evidence about a case's plan near
the task can earn (memory/ranking.py). Pure numpy, no bank."""

from __future__ import annotations

import numpy as np

from memento.memory.qfunction import QFunction
from memento.memory.ranking import ranking_scores

DIM = 16


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def setting() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A task, three candidate cases at falling similarity, and two plans (A and B), all random but fixed."""
    rng = np.random.default_rng(5)
    task = unit(rng.normal(size=DIM))
    cases = unit(task + rng.normal(size=(3, DIM)) * np.array([[0.3], [0.6], [1.2]]))
    plans = unit(rng.normal(size=(2, DIM)))
    return task, cases, plans, rng.normal(size=(40, DIM))


def learned(task: np.ndarray, plans: np.ndarray, noise: np.ndarray, episodes: int) -> QFunction:
    """A Q-function whose pair memory saw `episodes` tasks near `task`: plan A mostly worked there, plan B mostly failed."""
    model = QFunction()
    model.base_rate = 0.45
    near = unit(task + 0.2 * noise[:episodes])
    works = np.arange(episodes) % 5 != 0  # 80% for A, 20% for B
    model.remember_pairs([(near[i], plans[0], float(works[i]), 1.0) for i in range(episodes)])
    model.remember_pairs([(near[i], plans[1], float(not works[i]), 1.0) for i in range(episodes)])
    return model


def test_without_evidence_about_the_plans_q_ranks_exactly_by_similarity() -> None:
    task, cases, plans, _ = setting()
    stats = [{"positive": 1.0}] * 3
    scores = ranking_scores(QFunction(), task, cases, stats, np.stack([plans[0], plans[1], plans[0]]))
    assert np.allclose(scores, cases @ task, atol=1e-6)
    assert np.allclose(ranking_scores(QFunction(), task, cases, stats, None), cases @ task, atol=1e-6)


def test_a_plan_that_worked_near_this_task_lifts_its_case_and_one_that_failed_lowers_it() -> None:
    task, cases, plans, noise = setting()
    stats = [{"positive": 1.0}] * 3
    case_plans = np.stack([plans[1], plans[0], plans[0]])  # the nearest case carries the plan that fails here
    bonus = ranking_scores(learned(task, plans, noise, 20), task, cases, stats, case_plans) - cases @ task
    assert bonus[0] < 0 < bonus[1]
    assert np.isclose(bonus[1], bonus[2], atol=0.02)  # the same plan, the same tasks behind it: the same bonus


def test_thin_evidence_moves_a_case_less_than_ample_evidence() -> None:
    task, cases, plans, noise = setting()
    stats = [{"positive": 1.0}] * 3
    case_plans = np.stack([plans[1], plans[0], plans[0]])
    thin = ranking_scores(learned(task, plans, noise, 4), task, cases, stats, case_plans) - cases @ task
    ample = ranking_scores(learned(task, plans, noise, 40), task, cases, stats, case_plans) - cases @ task
    assert 0 < thin[1] < ample[1]
    assert ample[0] < thin[0] < 0


def test_a_failed_case_is_worth_more_as_a_warning_when_its_plan_fails_here() -> None:
    task, cases, plans, noise = setting()
    model = learned(task, plans, noise, 20)
    failed = [{"negative": 1.0}] * 3
    scores = ranking_scores(model, task, cases[:1].repeat(2, axis=0), failed[:2], plans[[1, 0]])
    assert scores[0] > float(cases[0] @ task) > scores[1]
