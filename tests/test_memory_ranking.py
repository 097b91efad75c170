"""How retrieval ranks with Q: cosine similarity plus a correction that only evidence about a case's plan near
the task can earn (memory/ranking.py). Pure numpy, no bank."""

from __future__ import annotations

import numpy as np

from memento.memory.qfunction import QFunction
from memento.memory.ranking import Ranking, ranking_scores
from memento.memory.settings import MemorySettings

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


def kinds() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two kinds of task that share most of their words (a large common direction) and differ in a small one,
    each solved by its own plan: (tasks of kind A, tasks of kind B, plan A, plan B)."""
    rng = np.random.default_rng(9)
    shared, kind_a, kind_b = unit(rng.normal(size=(3, DIM)))
    spread = rng.normal(size=(2, 30, DIM)) * 0.3 / np.sqrt(DIM)
    plans = unit(rng.normal(size=(2, DIM)))
    return unit(shared + 0.4 * kind_a + spread[0]), unit(shared + 0.4 * kind_b + spread[1]), plans[0], plans[1]


def tried(
    tasks_a: np.ndarray, tasks_b: np.ndarray, plan_a: np.ndarray, plan_b: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """Episodes where each kind's own plan worked and the other kind's plan failed."""
    return (
        [(t, plan_a, 1.0, 1.0) for t in tasks_a]
        + [(t, plan_b, 0.0, 1.0) for t in tasks_a[::2]]
        + [(t, plan_b, 1.0, 1.0) for t in tasks_b]
        + [(t, plan_a, 0.0, 1.0) for t in tasks_b[::2]]
    )


def test_the_plan_fit_points_a_new_task_to_the_plan_that_succeeded_on_its_kind_and_away_from_the_other() -> None:
    tasks_a, tasks_b, plan_a, plan_b = kinds()
    model = QFunction()
    assert np.array_equal(model.pairs.plan_fit(tasks_a[0], np.stack([plan_a, plan_b]), 1.0), [0.0, 0.0])  # no evidence, no fit
    model.remember_pairs(tried(tasks_a[1:], tasks_b[1:], plan_a, plan_b))
    fit_a = model.pairs.plan_fit(tasks_a[0], np.stack([plan_a, plan_b]), 1.0)
    fit_b = model.pairs.plan_fit(tasks_b[0], np.stack([plan_a, plan_b]), 1.0)
    assert fit_a[0] > 0.1 > -0.1 > fit_a[1]
    assert fit_b[1] > 0.1 > -0.1 > fit_b[0]


def test_with_a_plan_fit_weight_a_case_with_its_kinds_plan_overtakes_a_nearer_case_with_the_other_kinds_plan() -> None:
    tasks_a, tasks_b, plan_a, plan_b = kinds()
    model = QFunction()
    model.remember_pairs(tried(tasks_a[2:], tasks_b[2:], plan_a, plan_b))
    task = tasks_a[0]
    cases = np.stack([unit(0.5 * task + 0.5 * tasks_b[0]), tasks_a[1]])
    assert cases[0] @ task > cases[1] @ task  # the nearer case carries kind B's plan
    stats, case_plans = [{"positive": 1.0}] * 2, np.stack([plan_b, plan_a])
    off = ranking_scores(model, task, cases, stats, case_plans, Ranking(bonus_weight=0.0, plan_fit_weight=0.0, plan_value_weight=0.0))
    on = ranking_scores(model, task, cases, stats, case_plans, Ranking(bonus_weight=0.0, plan_fit_weight=0.3, plan_value_weight=0.0))
    assert np.allclose(off, cases @ task, atol=1e-6)  # with the fit's weight at 0: similarity alone
    assert off[0] > off[1] and on[1] > on[0]  # similarity puts the other kind's plan first; the fit puts this kind's


def test_the_plan_value_predicts_each_plan_s_reward_on_a_new_task_of_either_kind() -> None:
    tasks_a, tasks_b, plan_a, plan_b = kinds()
    model = QFunction()
    both = np.stack([plan_a, plan_b])
    assert np.array_equal(model.pairs.plan_value(tasks_a[0], both, 0.5, 0.1, 0.3), [0.0, 0.0])  # no evidence, no value
    model.remember_pairs(tried(tasks_a[1:], tasks_b[1:], plan_a, plan_b))
    value_a = model.pairs.plan_value(tasks_a[0], both, 0.5, 0.1, 0.3)
    value_b = model.pairs.plan_value(tasks_b[0], both, 0.5, 0.1, 0.3)
    # The two kinds share most of their words: a kernel over near tasks finds the other kind's plan about as good as
    # the base rate here (its successes on the other kind are near too); the linear model sees which side decides.
    assert value_a[0] > 0.1 and value_a[1] < -0.1
    assert value_b[1] > 0.1 and value_b[0] < -0.1
    unseen = unit(plan_a + 3 * plan_b + np.roll(plan_a, 3) * 5)
    assert abs(model.pairs.plan_value(tasks_a[0], unseen[None], 0.5, 0.1, 0.3)[0]) < 1e-9  # a plan nobody followed


def test_thin_evidence_for_a_plan_earns_it_a_smaller_value_than_ample_evidence() -> None:
    tasks_a, tasks_b, plan_a, plan_b = kinds()
    few, many = QFunction(), QFunction()
    few.remember_pairs(tried(tasks_a[1:3], tasks_b[1:3], plan_a, plan_b))
    many.remember_pairs(tried(tasks_a[1:], tasks_b[1:], plan_a, plan_b))
    both = np.stack([plan_a, plan_b])
    thin, ample = few.pairs.plan_value(tasks_a[0], both, 0.5, 0.1, 0.3), many.pairs.plan_value(tasks_a[0], both, 0.5, 0.1, 0.3)
    assert 0 < thin[0] < ample[0] and ample[1] < thin[1] < 0


def test_with_a_plan_value_weight_the_kinds_plan_leads_and_a_failed_case_is_left_to_the_kernel() -> None:
    tasks_a, tasks_b, plan_a, plan_b = kinds()
    model = QFunction()
    model.remember_pairs(tried(tasks_a[2:], tasks_b[2:], plan_a, plan_b))
    task = tasks_a[0]
    cases = np.stack([unit(0.5 * task + 0.5 * tasks_b[0]), tasks_a[1], unit(0.5 * task + 0.5 * tasks_b[1])])
    stats = [{"positive": 1.0}, {"positive": 1.0}, {"negative": 1.0}]
    case_plans = np.stack([plan_b, plan_a, plan_b])
    plain = Ranking(bonus_weight=0.0, plan_fit_weight=0.0, plan_value_weight=0.0)
    off = ranking_scores(model, task, cases, stats, case_plans, plain)
    on = ranking_scores(model, task, cases, stats, case_plans, Ranking(bonus_weight=0.0, plan_fit_weight=0.0, plan_value_weight=1.0))
    assert off[0] > off[1] and on[1] > on[0]  # similarity puts the other kind's plan first; the plan value puts this kind's
    assert on[2] == off[2]  # a failed case's worth as a warning is not the plan value's to change


def test_the_ranking_constants_are_the_settings_the_bank_was_opened_with() -> None:
    settings = MemorySettings(memory_bonus_weight=0.7, memory_task_width=0.2, memory_plan_fit_weight=0.25)
    ranking = Ranking.of(settings)
    assert (ranking.bonus_weight, ranking.task_width, ranking.plan_fit_weight) == (0.7, 0.2, 0.25)
    assert Ranking.of(MemorySettings()) == Ranking()  # the settings' defaults are the ranking's
