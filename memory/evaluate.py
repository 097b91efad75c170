"""`memento memory eval-retriever`: how well the default Q-function predicts success on transitions
in the reference `training_data.jsonl` format (query, case, case_label, plan, truth_label).

Trains on --train only, scores --test, prints AUC, accuracy and F1. Case statistics (uses,
successes) are counted from the training rows only, as a case bank would have them after
learning from those episodes. Also writes by-query splits of a reference file, so that no
query is ever in both halves. Does not touch any case bank.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImportFormatError
from .interchange import parse_plan, read_rows

__all__ = ["Prepared", "auc", "evaluate", "load_reference", "main", "prepare", "split_by_query"]

FIELDS = ("query", "case", "case_label", "plan", "truth_label")


def load_reference(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a reference `training_data.jsonl`; a malformed line raises an error naming it."""
    path = Path(path)
    rows = []
    for number, row in read_rows(path):
        for field in FIELDS:
            if field not in row:
                raise ImportFormatError(str(path), number, field, "missing")
        if row["case_label"] not in ("positive", "negative"):
            raise ImportFormatError(str(path), number, "case_label", "must be 'positive' or 'negative'")
        if not isinstance(row["truth_label"], bool):
            raise ImportFormatError(str(path), number, "truth_label", "must be true or false")
        rows.append(row)
    if not rows:
        raise ImportFormatError(str(path), 0, "(file)", "holds no rows")
    return rows


def split_by_query(
    source: str | Path, train: str | Path, test: str | Path, test_fraction: float = 0.2, seed: int = 0,
    max_queries: int | None = None,
) -> tuple[int, int]:  # fmt: skip
    """Write a random by-query split of `source` (optionally of its first `max_queries` queries)
    to `train` and `test`; returns the row counts."""
    lines = [line for line in Path(source).read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = list(dict.fromkeys(json.loads(line)["query"] for line in lines))
    if max_queries is not None:
        queries = queries[:max_queries]
    order = np.random.default_rng(seed).permutation(len(queries))
    n_test = max(1, round(len(queries) * test_fraction))
    held_out = {queries[i] for i in order[:n_test]}
    kept = set(queries)
    halves: dict[bool, list[str]] = {True: [], False: []}
    for line in lines:
        query = json.loads(line)["query"]
        if query in kept:
            halves[query in held_out].append(line)
    Path(train).write_text("\n".join(halves[False]) + "\n", encoding="utf-8")
    Path(test).write_text("\n".join(halves[True]) + "\n", encoding="utf-8")
    return len(halves[False]), len(halves[True])


@dataclass
class Prepared:
    """Reference rows as arrays: embeddings of the query and the case task, and the case's facts."""

    queries: list[str]
    cases: list[str]
    task_embs: np.ndarray
    case_embs: np.ndarray
    case_reward: np.ndarray  # 1 for a positive case, 0 for a negative one
    plan_steps: np.ndarray
    truth: np.ndarray

    def __len__(self) -> int:
        return len(self.truth)

    def stats(self, counts: dict[str, tuple[int, int]]) -> list[dict[str, float]]:
        """What the case bank would hold for each row's case, given (uses, successes) per case."""
        return [
            {"reward": float(r), "uses": float(counts.get(c, (0, 0))[0]),
             "successes": float(counts.get(c, (0, 0))[1]), "plan_steps": float(s)}
            for c, r, s in zip(self.cases, self.case_reward, self.plan_steps)
        ]  # fmt: skip

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per case: how many of these rows showed it, and how many of those succeeded."""
        tally: dict[str, list[int]] = {}
        for case, label in zip(self.cases, self.truth):
            entry = tally.setdefault(case, [0, 0])
            entry[0] += 1
            entry[1] += int(label)
        return {case: (uses, successes) for case, (uses, successes) in tally.items()}


def prepare(rows: Sequence[dict[str, Any]], embedder: Any) -> Prepared:
    """Embed each distinct query and case task once (the case bank embeds a case by its task)."""
    queries = [r["query"] for r in rows]
    cases = [r["case"] for r in rows]
    texts = list(dict.fromkeys(queries + cases))
    vectors = dict(zip(texts, embedder.embed(texts)))
    return Prepared(
        queries,
        cases,
        np.stack([vectors[q] for q in queries]).astype(np.float32),
        np.stack([vectors[c] for c in cases]).astype(np.float32),
        np.array([r["case_label"] == "positive" for r in rows], dtype=np.float64),
        np.array([len(parse_plan(r["plan"])) for r in rows], dtype=np.float64),
        np.array([bool(r["truth_label"]) for r in rows], dtype=np.float64),
    )


def auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with a single class."""
    truth = np.asarray(truth, dtype=bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    start = 0
    for end in range(1, len(sorted_scores) + 1):  # average ranks over runs of equal scores
        if end == len(sorted_scores) or sorted_scores[end] != sorted_scores[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def best_threshold(truth: np.ndarray, probabilities: np.ndarray) -> float:
    """The cut-off with the best F1 on the training rows (success is rare, so 0.5 would predict none)."""
    candidates = np.unique(np.round(probabilities, 4))
    best, best_f1 = 0.5, -1.0
    for cut in candidates:
        f1 = _f1(truth, probabilities >= cut)
        if f1 > best_f1:
            best, best_f1 = float(cut), f1
    return best


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    truth = np.asarray(truth, dtype=bool)
    tp = int(np.sum(predicted & truth))
    fp, fn = int(np.sum(predicted & ~truth)), int(np.sum(~predicted & truth))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def evaluate(train: Prepared, test: Prepared, model: Any = None) -> dict[str, Any]:
    """Train `model` (default: a new QFunction) on `train`, score `test`.

    A model gets `TrainingRow`s (with the task text) and scores with `score_many(..., task_texts=...)`: the rows of
    one query are the candidate set shown for it, as a retrieval would hand them over."""
    from .qfunction import QFunction, TrainingRow

    model = model if model is not None else QFunction()
    counts = train.counts()
    train_stats = train.stats(counts)
    started = time.perf_counter()
    model.fit([
        TrainingRow(t, c, s, float(y), task_text=q)
        for t, c, s, y, q in zip(train.task_embs, train.case_embs, train_stats, train.truth, train.queries)
    ])  # fmt: skip
    seconds = time.perf_counter() - started
    # The cut-off is chosen on training rows scored with their leave-one-out statistics.
    leave_one_out = [
        s | {"uses": max(s["uses"] - 1, 0.0), "successes": max(s["successes"] - y, 0.0)} for s, y in zip(train_stats, train.truth)
    ]
    threshold = best_threshold(train.truth, model.score_many(train.task_embs, train.case_embs, leave_one_out, task_texts=train.queries))
    probabilities = model.score_many(test.task_embs, test.case_embs, test.stats(counts), task_texts=test.queries)
    predicted = probabilities >= threshold
    truth = test.truth.astype(bool)
    area = auc(truth, probabilities)
    return {
        "auc": None if np.isnan(area) else round(area, 4),  # undefined when --test holds one class only
        "accuracy": round(float(np.mean(predicted == truth)), 4),
        "f1": round(_f1(truth, predicted), 4),
        "train_seconds": round(seconds, 3),
        "n_train": len(train),
        "n_test": len(test),
    }


def evaluate_files(train: str | Path, test: str | Path, embedder: Any = None) -> dict[str, Any]:
    if embedder is None:
        from .embeddings import Embedder

        embedder = Embedder()
    return evaluate(prepare(load_reference(train), embedder), prepare(load_reference(test), embedder))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memento memory eval-retriever",
        description="Train the default Q-function on reference-format transitions and report how well it "
        "predicts truth_label on held-out ones (split by query: no query in both files).",
    )
    parser.add_argument("--train", required=True, type=Path, help="training_data.jsonl rows to train on")
    parser.add_argument("--test", required=True, type=Path, help="training_data.jsonl rows to score")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = evaluate_files(args.train, args.test)
    if args.json:
        print(json.dumps(result))
    else:
        area = "undefined (one class only)" if result["auc"] is None else f"{result['auc']:.3f}"
        print(f"AUC {area}   accuracy {result['accuracy']:.3f}   F1 {result['f1']:.3f}")
        print(f"trained in {result['train_seconds']:.2f} s on {result['n_train']} rows; scored {result['n_test']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
