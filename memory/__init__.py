"""Memento's case memory: a Chroma-backed case bank, embeddings, and the learned case-selection policy.

from memento.memory import CaseBank, MemorySettings
bank = CaseBank.open(MemorySettings.from_env())
"""

from .casebank import CaseBank, Recorded, Retrieval, ScoredCase
from .cases import Case, Transition
from .errors import CaseMemoryError, CaseNotFound, EmbeddingError, ImportFormatError, QFunctionError, StoreError
from .qfunction import QFunction
from .settings import MemorySettings

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
