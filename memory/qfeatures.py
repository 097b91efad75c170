"""The Q-function's feature vocabulary and the pure array helpers behind it: which columns Q reads, the
candidate-set context (what the cases shown together with a task say about it) and the task text's cue.

Only numpy on arrays handed in; it keeps no state and never sees the case bank or stores any text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FEATURES", "FEATURES_V1", "FEATURES_V2", "entity_share", "set_mean", "task_groups", "text_column"]

FEATURES_V1 = ("task_prior", "case_rate", "case_uses", "case_reward", "plan_steps", "similarity", "signed_similarity")
FEATURES_V2 = (*FEATURES_V1, "case_credit", "pair_mean", "pair_evidence")
# set_rate: mean case rate of the candidates shown with the task; task_density: how close the nearest remembered
# tasks are; task_entities: the share of capitalised words in the task text (named entities: multi-hop questions).
FEATURES = (*FEATURES_V2, "set_rate", "task_density", "task_entities")

DENSITY_NEIGHBOURS = 10  # chosen on the validation splits (1, 3, 5, 10, 20 within 0.006 AUC of each other)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _task_keys(embs: np.ndarray) -> list[bytes]:
    """Identity of a task: its embedding, rounded so that re-embedding the same text matches."""
    return [row.tobytes() for row in np.round(embs * 1e4).astype(np.int32)]


def task_groups(task_embs: np.ndarray) -> list[list[int]]:
    """The rows of each distinct task, in first-seen order (the candidates scored for one task together)."""
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(_task_keys(task_embs)):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def set_mean(values: np.ndarray, task_embs: np.ndarray) -> np.ndarray:
    """Each row's value replaced by the mean over the rows of its task (its candidate set)."""
    out = np.empty(len(values))
    for members in task_groups(task_embs):
        out[members] = values[members].mean()
    return out


def entity_share(text: str) -> float:
    """Share of the words after the first that start with a capital letter: a language-agnostic cue for how many
    named things a task links (the first word is capitalised by every sentence, so it is left out)."""
    words = text.split()
    return sum(1 for word in words[1:] if word[:1].isupper()) / max(len(words), 1)


def text_column(texts: Sequence[str | None] | None, n: int, fill: float | None) -> np.ndarray:
    """`entity_share` per row; rows without text get `fill` (None: the mean of the rows with text, else 0), so an
    unknown text is neutral once standardised."""
    if texts is None:
        texts = [None] * n
    values = np.array([np.nan if t is None else entity_share(t) for t in texts], dtype=np.float64)
    known = ~np.isnan(values)
    if fill is None:
        fill = float(values[known].mean()) if known.any() else 0.0
    values[~known] = fill
    return values
