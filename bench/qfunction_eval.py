"""eval-retriever on the reference `training_data.jsonl`: AUC of predicting truth_label for held-out
queries, for the default Q-function, the previous default, plain cosine similarity and every alternative
we tried, all in one run. Ten random 20% by-query test splits (mean ± sd, and paired differences from the
previous default); model choices were made on a validation split carved from each training half (20% of
its queries), shown beside the test figure; test was never used to choose."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import print_header

from memento.memory.embeddings import Embedder
from memento.memory.evaluate import Prepared, evaluate, load_reference, prepare
from memento.memory.qfeatures import FEATURES, FEATURES_V2
from memento.memory.qfunction import QFunction

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "training_data.jsonl"
SEEDS = range(10)
GOAL_AUC, GOAL_SECONDS = 0.70, 120.0  # issue 24: the reference AUC stays >= 0.70 (it was 0.637 before)
OLD = "previous default: kNN prior + case stats + similarity + pair terms"


def subset(data: Prepared, keep: np.ndarray) -> Prepared:
    rows = np.flatnonzero(keep)
    return Prepared(
        [data.queries[i] for i in rows], [data.cases[i] for i in rows], data.task_embs[rows], data.case_embs[rows],
        data.case_reward[rows], data.plan_steps[rows], data.truth[rows],
    )  # fmt: skip


def query_split(queries: list[str], pool: list[str], seed: int, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Row masks (kept, held out) for a random `fraction` of the queries in `pool`."""
    order = np.random.default_rng(seed).permutation(len(pool))
    held = {pool[i] for i in order[: round(len(pool) * fraction)]}
    members = set(pool)
    return (
        np.array([q in members and q not in held for q in queries]),
        np.array([q in held for q in queries]),
    )


# ---- alternatives --------------------------------------------------------------------------


def keeping(*names: str, **settings: float) -> type[QFunction]:
    """The Q-function restricted to some of its features (and other settings): the others are held at 0, so they
    standardise to 0 and the L2-penalised fit leaves their weights at 0."""
    dropped = [i for i, name in enumerate(FEATURES) if name not in names]

    class Restricted(QFunction):
        def __init__(self) -> None:
            super().__init__(**settings)  # type: ignore[arg-type]

        def _features(self, *args, **kwargs):
            x = super()._features(*args, **kwargs)
            x[:, dropped] = 0.0
            return x

    return Restricted


def without(*names: str, **settings: float) -> type[QFunction]:
    return keeping(*[f for f in FEATURES if f not in names], **settings)


def old_with(*names: str) -> type[QFunction]:
    """The previous default plus some of the new features."""
    return keeping(*FEATURES_V2, *names)


class Boosted(QFunction):
    """The same features, combined by gradient-boosted trees instead of a logistic regression."""

    def _newton(self, x, y, sample=None, iterations=25):
        from sklearn.ensemble import HistGradientBoostingClassifier

        self._trees = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=40, l2_regularization=1.0, random_state=0
        ).fit(x, y)
        return np.zeros(x.shape[1]), 0.0

    def score_many(self, task_embs, case_embs, case_stats, task_texts=None):
        x = (self._features(task_embs, case_embs, case_stats, texts=task_texts) - self._mean) / self._scale
        return self._trees.predict_proba(x)[:, 1]


class Cosine:
    """Plain similarity of task and case, no training."""

    def fit(self, rows):
        return {}

    def score_many(self, task_embs, case_embs, case_stats, task_texts=None):
        return np.sum(task_embs * case_embs, axis=1)


class QueryOnly:
    """Logistic regression on the task embedding alone: predicts how hard the task is."""

    def fit(self, rows):
        from sklearn.linear_model import LogisticRegression

        self._model = LogisticRegression(C=0.1, max_iter=2000).fit(np.stack([r.task_emb for r in rows]), [r.reward for r in rows])

    def score_many(self, task_embs, case_embs, case_stats, task_texts=None):
        return self._model.predict_proba(task_embs)[:, 1]


class PairMLP:
    """The issue's first sketch: an MLP on [q, c, q·c, |q−c|] of frozen embeddings (optionally + case stats)."""

    def __init__(self, with_stats: bool = False, epochs: int = 20) -> None:
        self.with_stats, self.epochs = with_stats, epochs

    def _inputs(self, tasks, cases, stats, rewards=None):
        parts = [tasks, cases, tasks * cases, np.abs(tasks - cases)]
        if self.with_stats:
            uses = np.array([s["uses"] for s in stats]) - (0 if rewards is None else 1)
            wins = np.array([s["successes"] for s in stats]) - (0 if rewards is None else (np.asarray(rewards) >= 0.5))
            parts.append(np.column_stack([
                np.array([s["reward"] for s in stats]), np.log1p([s["plan_steps"] for s in stats]),
                np.log1p(np.clip(uses, 0, None)), (np.clip(wins, 0, None) + 1) / (np.clip(uses, 0, None) + 2),
            ]))  # fmt: skip
        return np.hstack(parts).astype(np.float32)

    def fit(self, rows):
        import torch

        torch.manual_seed(0)
        tasks, cases, stats, rewards = zip(*[(r.task_emb, r.case_emb, r.case_stats, r.reward) for r in rows])
        x = torch.tensor(self._inputs(np.stack(tasks), np.stack(cases), stats, np.array(rewards)))
        y = torch.tensor(rewards, dtype=torch.float32)
        self._net = torch.nn.Sequential(
            torch.nn.Dropout(0.2), torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(256, 1)
        )  # fmt: skip
        optimiser = torch.optim.AdamW(self._net.parameters(), lr=1e-3, weight_decay=1e-4)
        loss = torch.nn.BCEWithLogitsLoss()
        for _ in range(self.epochs):
            for batch in torch.randperm(len(x)).split(64):
                optimiser.zero_grad()
                loss(self._net(x[batch]).squeeze(1), y[batch]).backward()
                optimiser.step()
        self._net.eval()

    def score_many(self, task_embs, case_embs, case_stats, task_texts=None):
        import torch

        with torch.no_grad():
            return torch.sigmoid(self._net(torch.tensor(self._inputs(task_embs, case_embs, case_stats))).squeeze(1)).numpy()


VARIANTS = {
    "Q-function (default): previous + set rate, task density, task entities": QFunction,
    OLD: keeping(*FEATURES_V2),
    "previous + set rate (the candidates' mean case rate)": old_with("set_rate"),
    "previous + task density": old_with("task_density"),
    "previous + task entities (share of capitalised words)": old_with("task_entities"),
    "previous + set rate + task density (no text)": old_with("set_rate", "task_density"),
    "previous + set rate + task entities": old_with("set_rate", "task_entities"),
    "default without set rate": without("set_rate"),
    "default, neighbours 200": keeping(*FEATURES, neighbours=200),
    "default, temperature 0.05": keeping(*FEATURES, temperature=0.05),
    "default, L2 100": keeping(*FEATURES, l2=100.0),
    "plain cosine similarity (no training)": Cosine,
    "logistic regression on cosine alone": keeping("similarity"),
    "task kNN prior alone (no case terms)": keeping("task_prior"),
    "case terms alone (no task prior)": without("task_prior", "set_rate", "task_density", "task_entities"),
    "previous, neighbours 50, temperature 0.05": keeping(*FEATURES_V2, neighbours=50, temperature=0.05),
    "previous, neighbours 200, temperature 0.2": keeping(*FEATURES_V2, neighbours=200, temperature=0.2),
    "gradient-boosted trees on the Q features": Boosted,
    "logistic regression on the query embedding only": QueryOnly,
    "MLP on [q, c, q*c, |q-c|], 20 epochs (torch)": PairMLP,
    "MLP on [q, c, q*c, |q-c|] + case stats, 20 epochs": lambda: PairMLP(with_stats=True),
}


def main() -> None:
    print_header("eval-retriever: Q-function vs alternatives on the reference training_data.jsonl")
    if not REFERENCE.is_file():
        sys.exit(f"{REFERENCE} not found: the reference data is needed for this benchmark")
    import torch

    torch.set_num_threads(2)
    rows = load_reference(REFERENCE)
    started = time.perf_counter()
    data = prepare(rows, Embedder())
    embed_seconds = time.perf_counter() - started
    queries = list(dict.fromkeys(data.queries))
    print(f"{len(rows)} rows, {len(queries)} queries; embedding every distinct query and case task "
          f"(all-MiniLM-L6-v2, CPU, once): {embed_seconds:.1f} s")  # fmt: skip
    print(f"splits: {len(SEEDS)} seeds x 20% of queries held out; validation = 20% of each training half's queries\n")
    results: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
    for seed in SEEDS:
        train, test = query_split(data.queries, queries, seed)
        train_queries = list(dict.fromkeys(q for q, keep in zip(data.queries, train) if keep))
        fit, validation = query_split(data.queries, train_queries, 1000 + seed)
        for name, make in VARIANTS.items():
            val = evaluate(subset(data, fit), subset(data, validation), make())
            out = evaluate(subset(data, train), subset(data, test), make())
            for key, value in (("val", val["auc"]), ("auc", out["auc"]), ("accuracy", out["accuracy"]),
                               ("f1", out["f1"]), ("seconds", out["train_seconds"])):  # fmt: skip
                results[name].setdefault(key, []).append(value)
        print(f"  seed {seed}: default AUC {results[next(iter(VARIANTS))]['auc'][-1]:.3f}", flush=True)

    def cell(values: list[float]) -> str:
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    def paired(values: list[float], base: list[float]) -> str:
        differences = [a - b for a, b in zip(values, base)]
        return f"{statistics.mean(differences):+.3f} ± {statistics.stdev(differences):.3f}".rjust(15)

    old = results[OLD]
    print(f"\n{'variant':74s} {'val AUC':>15s} {'test AUC':>15s} {'val − prev':>15s} {'test − prev':>15s} "
          f"{'acc':>6s} {'F1':>6s} {'train s':>8s}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:74s} {cell(r['val']):>15s} {cell(r['auc']):>15s} {paired(r['val'], old['val'])} "
              f"{paired(r['auc'], old['auc'])} {statistics.mean(r['accuracy']):6.3f} "
              f"{statistics.mean(r['f1']):6.3f} {statistics.mean(r['seconds']):8.2f}")  # fmt: skip
    default = results[next(iter(VARIANTS))]
    mean_auc, worst_seconds = statistics.mean(default["auc"]), max(default["seconds"])
    print(f"\ndefault per seed (test AUC): {', '.join(f'{a:.3f}' for a in default['auc'])}")
    higher = sum(a > b for a, b in zip(default["auc"], old["auc"]))
    print(f"previous default per seed:   {', '.join(f'{a:.3f}' for a in old['auc'])} (default higher on {higher} of {len(SEEDS)})")
    print(f"goal: AUC >= {GOAL_AUC} with <= {GOAL_SECONDS:.0f} s of training -> mean {mean_auc:.3f}, "
          f"slowest fit {worst_seconds:.2f} s (+ {embed_seconds:.0f} s one-off embedding) -> "
          f"{'MET' if mean_auc >= GOAL_AUC and worst_seconds + embed_seconds <= GOAL_SECONDS else 'NOT MET'}")  # fmt: skip
    print(
        "anchors from the issue (one 20% split): fine-tuned encoder 0.637 in 29 min; cosine 0.450; "
        "frozen MLP 0.560 in 7 s; query-only 0.531"
    )


if __name__ == "__main__":
    main()
