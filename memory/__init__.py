"""Memento's case memory: a Chroma-backed case bank, embeddings, and the learned case-selection policy.

from memento.memory import CaseBank, MemorySettings
bank = CaseBank.open(MemorySettings.from_env())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .cases import Case, Transition
from .errors import CaseMemoryError, CaseNotFound, EmbeddingError, ImportFormatError, QFunctionError, StoreError
from .settings import MemorySettings

if TYPE_CHECKING:
    from .casebank import CaseBank, Recorded, Retrieval, ScoredCase
    from .qfunction import QFunction

# Imported on first use: they pull in numpy (and the bank, Chroma's client), which the casebank server and the
# agent's start must not wait for when they only need the settings or the errors.
_LAZY = {
    "CaseBank": "casebank",
    "Recorded": "casebank",
    "Retrieval": "casebank",
    "ScoredCase": "casebank",
    "QFunction": "qfunction",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


__all__ = [
    "Case",
    "CaseBank",
    "CaseNotFound",
    "EmbeddingError",
    "ImportFormatError",
    "CaseMemoryError",
    "MemorySettings",
    "QFunction",
    "QFunctionError",
    "Recorded",
    "Retrieval",
    "ScoredCase",
    "StoreError",
    "Transition",
]
