"""The (task, plan) memory of Q: rated episodes as task and plan embeddings with their rewards.

It answers "how did plans like this one fare on tasks like this one?" with a kernel-weighted mean reward
(a product of a task kernel and a plan kernel, shrunk towards the base rate when the evidence is thin), with a
global map from task to the plans that worked (the plan fit) and with one linear model per plan (the plan value).
Pure numpy over fixed-size arrays (a ring that forgets the oldest episodes); it knows nothing of cases,
stores no text, and is saved inside the Q-function's archive.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PairMemory"]

SUPPORT = 512  # episodes at most behind one plan's linear model (its heaviest): bounds the solve
MODELS_KEPT = 1024  # per-plan models kept between adds (each at most SUPPORT rows and weights)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class PairMemory:
    """At most `capacity` rated episodes; `estimate` scores (task, plan) pairs against them."""

    def __init__(
        self, capacity: int = 4096, task_width: float = 0.3, plan_width: float = 0.05, neighbours: int = 128, prior: float = 0.5
    ) -> None:
        self.capacity, self.task_width, self.plan_width = capacity, task_width, plan_width
        self.neighbours, self.prior = neighbours, prior
        self.tasks = np.zeros((0, 0), np.float32)
        self.plans = np.zeros((0, 0), np.float32)
        self.rewards = np.zeros(0)
        self.weights = np.zeros(0)
        self.next_slot = 0
        self._predictor: tuple[float, np.ndarray, np.ndarray, float] | None = None  # (ridge, map, mean plan, spread), until the next add
        # Per-plan models, (support rows, dual weights), by (plan, base rate, prior, noise), until the next add (or
        # MODELS_KEPT of them).
        self._plan_models: dict[tuple[bytes, float, float, float], tuple[np.ndarray, np.ndarray] | None] = {}

    def __len__(self) -> int:
        return len(self.rewards)

    def add(self, tasks: np.ndarray, plans: np.ndarray, rewards: np.ndarray, weights: np.ndarray) -> None:
        """Remember episodes (rows); when full, each replaces the oldest."""
        keep = np.linalg.norm(plans, axis=1) > 1e-9  # an episode without a plan says nothing about plans
        # Rounded to float16 at once, so that a published and reloaded model scores exactly as this one.
        tasks, plans = _unit(tasks[keep]).astype(np.float16).astype(np.float32), _unit(plans[keep]).astype(np.float16).astype(np.float32)
        rewards, weights = np.asarray(rewards, float)[keep], np.asarray(weights, float)[keep]
        if not len(rewards):
            return
        self._predictor, self._plan_models = None, {}
        if not len(self):
            self.tasks, self.plans = np.zeros((0, tasks.shape[1]), np.float32), np.zeros((0, plans.shape[1]), np.float32)
        room = max(0, self.capacity - len(self))
        grow = min(room, len(rewards))
        self.tasks = np.vstack([self.tasks, tasks[:grow]])
        self.plans = np.vstack([self.plans, plans[:grow]])
        self.rewards = np.concatenate([self.rewards, rewards[:grow]])
        self.weights = np.concatenate([self.weights, weights[:grow]])
        for i in range(grow, len(rewards)):  # full: overwrite the oldest, in turn
            slot = self.next_slot
            self.tasks[slot], self.plans[slot], self.rewards[slot], self.weights[slot] = tasks[i], plans[i], rewards[i], weights[i]
            self.next_slot = (slot + 1) % self.capacity

    def estimate(
        self, tasks: np.ndarray, plans: np.ndarray, base: float, leave_task_out: bool = False, task_width: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(shrunk mean reward, evidence) per aligned (task, plan) row; evidence is the total kernel weight.
        task_width: the task kernel's width for this call (default the memory's own).

        leave_task_out: ignore remembered episodes of the very same task (training rows must not see their own
        outcome, as scoring a new task cannot)."""
        n = len(tasks)
        if not len(self) or n == 0:
            return np.full(n, base), np.zeros(n)
        tasks, plans = _unit(tasks), _unit(plans)
        has_plan = np.linalg.norm(plans, axis=1) > 1e-9
        mean, evidence = np.full(n, base), np.zeros(n)
        # Rows of one task share their task neighbours: find them once per distinct task.
        # Grouped by the rounded vector's bytes (a dict, in order of first appearance): np.unique over rows sorts
        # them as structured records, which cost more than the whole estimate.
        groups: dict[bytes, int] = {}
        inverse = np.array([groups.setdefault(row.tobytes(), len(groups)) for row in np.round(tasks * 1e4).astype(np.int32)])
        first = np.zeros(len(groups), dtype=int)
        first[inverse[::-1]] = np.arange(n)[::-1]
        task_sims = tasks[first] @ self.tasks.T  # (distinct tasks, memory)
        if leave_task_out:
            task_sims[task_sims > 0.9999] = -np.inf
        m = min(self.neighbours, len(self))
        for group, sims in enumerate(task_sims):
            rows = np.flatnonzero((inverse == group) & has_plan)
            if not len(rows):
                continue
            near = np.argpartition(-sims, m - 1)[:m] if m < len(sims) else np.arange(len(sims))
            k_task = np.exp((sims[near] - 1.0) / (task_width or self.task_width))  # 0 for left-out rows (exp(-inf))
            k_plan = np.exp((plans[rows] @ self.plans[near].T - 1.0) / self.plan_width)  # (rows, near)
            w = k_plan * (k_task * self.weights[near])[None, :]
            total = w.sum(axis=1)
            evidence[rows] = total
            mean[rows] = (w @ self.rewards[near] + self.prior * base) / (total + self.prior)
        return mean, evidence

    def plan_fit(self, task: np.ndarray, plans: np.ndarray, ridge: float) -> np.ndarray:
        """How much each plan looks like the plans that succeeded on tasks like this one: about 1 for the plan a
        ridge map from task to successful plan predicts here, 0 where the memory predicts nothing, below 0 for
        plans unlike it.

        Unlike the kernel estimate, the map is global and linear: it learns which directions of a task's embedding
        decide the plan (the words that tell two kinds of task apart), so tasks that share other words with
        another kind's still point to their own kind's plan."""
        plans = np.asarray(plans, np.float32)
        fit = np.zeros(len(plans))
        predictor = self._plan_predictor(ridge)
        if predictor is None:
            return fit
        mapping, mean, spread = predictor
        predicted = np.append(_unit(np.asarray(task, np.float32).reshape(-1)), 1.0) @ mapping
        has_plan = np.linalg.norm(plans, axis=1) > 1e-9
        # Over the successes' mean squared distance to their mean plan, one scale for every candidate: a plan's own
        # distance would blow up the errors of the most common plan, which sits near the mean.
        fit[has_plan] = ((_unit(plans[has_plan]) - mean) @ predicted) / spread
        return fit

    def plan_value(self, task: np.ndarray, plans: np.ndarray, base: float, prior: float, noise: float) -> np.ndarray:
        """The predicted reward of following each plan on this task, minus the base rate: 0 where the memory has never
        seen the plan followed.

        One Bayesian linear model per plan (over the episodes that followed it, weighted by the plan kernel): reward -
        base = w . task + b, w ~ N(0, I), b ~ N(0, prior), noise variance noise / weight. Unlike a kernel over near
        tasks, it learns from contrast: the failures of a plan on tasks that share words with its successes teach it
        which directions of the task embedding decide success. Thin evidence keeps the prediction near 0."""
        plans = np.asarray(plans, np.float32)
        value = np.zeros(len(plans))
        if not len(self) or not len(plans):
            return value
        x = _unit(np.asarray(task, np.float32).reshape(-1)).astype(np.float64)
        has_plan = np.linalg.norm(plans, axis=1) > 1e-9
        groups: dict[bytes, list[int]] = {}
        for i in np.flatnonzero(has_plan):
            groups.setdefault(np.round(_unit(plans[i]) * 1e3).astype(np.int32).tobytes(), []).append(int(i))
        new = [key for key in groups if (key, base, prior, noise) not in self._plan_models]
        if len(self._plan_models) + len(new) > MODELS_KEPT:  # a long-lived reader sees ever new plans
            self._plan_models = {}
            new = list(groups)
        if new:  # the plan kernel of every plan not modelled yet, in one product
            kernels = np.exp((_unit(plans[[groups[key][0] for key in new]]) @ self.plans.T - 1.0) / self.plan_width)
            for key, kernel in zip(new, kernels):
                self._plan_models[(key, base, prior, noise)] = self._plan_model(kernel * self.weights, base, prior, noise)
        for key, rows in groups.items():
            model = self._plan_models[(key, base, prior, noise)]
            if model is not None:
                support, alpha = model
                value[rows] = (prior + self.tasks[support].astype(np.float64) @ x) @ alpha
        return value

    def _plan_model(self, weight: np.ndarray, base: float, prior: float, noise: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(support rows, dual weights) of one plan's linear model from each episode's weight for it; None without evidence."""
        support = np.flatnonzero(weight > 1e-3)
        if len(support) > SUPPORT:  # the plan's heaviest episodes
            support = support[np.argpartition(-weight[support], SUPPORT - 1)[:SUPPORT]]
        if not len(support):
            return None
        tasks = self.tasks[support].astype(np.float64)
        gram = prior + tasks @ tasks.T + np.diag(noise / weight[support])
        return support.astype(np.int32), np.linalg.solve(gram, self.rewards[support] - base)

    def __getstate__(self) -> dict[str, object]:
        """A copy (an update starts from a deep copy of the model) leaves the caches behind: the add empties them anyway."""
        return {**self.__dict__, "_predictor": None, "_plan_models": {}}

    def _plan_predictor(self, ridge: float) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(map, mean plan, spread): ridge regression from [task, 1] to (reward - mean reward) x the centred plan
        embedding over every remembered episode (successes pull towards their plan, failures push away from
        theirs), weighted by weight; spread is the weighted mean squared distance of the plans to their mean."""
        if self._predictor is not None and self._predictor[0] == ridge:
            return self._predictor[1], self._predictor[2], self._predictor[3]
        rows = np.flatnonzero(self.weights > 0)
        if len(rows) < 2:
            return None
        w, tasks, plans = self.weights[rows], self.tasks[rows].astype(np.float64), self.plans[rows].astype(np.float64)
        mean, base = (w @ plans) / w.sum(), float(w @ self.rewards[rows]) / w.sum()
        advantage = self.rewards[rows] - base
        if not np.any(advantage):
            return None
        x = np.hstack([tasks, np.ones((len(rows), 1))])
        penalty = np.full(x.shape[1], ridge)
        penalty[-1] = 1e-6  # the constant is not shrunk
        gram = (x * w[:, None]).T @ x + np.diag(penalty)
        mapping = np.linalg.solve(gram, (x * w[:, None]).T @ ((plans - mean) * advantage[:, None]))
        spread = max(float(w @ np.sum((plans - mean) ** 2, axis=1)) / float(w.sum()), 1e-6)
        self._predictor = (ridge, mapping, mean, spread)
        return mapping, mean, spread

    def arrays(self) -> dict[str, np.ndarray]:
        """What the Q-function's archive keeps (embeddings as float16: half the bytes, ranks unchanged)."""
        return {
            "pair_tasks": self.tasks.astype(np.float16),
            "pair_plans": self.plans.astype(np.float16),
            "pair_rewards": self.rewards,
            "pair_weights": self.weights,
        }

    def load(self, arrays: dict[str, np.ndarray], next_slot: int) -> None:
        if arrays["pair_rewards"].size:
            self.tasks, self.plans = arrays["pair_tasks"].astype(np.float32), arrays["pair_plans"].astype(np.float32)
            self.rewards, self.weights = arrays["pair_rewards"].astype(float), arrays["pair_weights"].astype(float)
            self.next_slot = next_slot
            self._predictor, self._plan_models = None, {}

    def settings(self) -> dict[str, float]:
        return {
            "capacity": self.capacity, "task_width": self.task_width, "plan_width": self.plan_width,
            "neighbours": self.neighbours, "prior": self.prior,
        }  # fmt: skip
