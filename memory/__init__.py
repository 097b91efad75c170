"""Memento's case memory: a Chroma-backed case bank, embeddings, and the learned case-selection policy.

    from memory import CaseBank, MemorySettings
    bank = CaseBank.open(MemorySettings.from_env())
"""

from .casebank import CaseBank, Recorded, Retrieval, ScoredCase
from .cases import Case, Transition
from .errors import CaseNotFound, EmbeddingError, ImportFormatError, MementoMemoryError, StoreError
from .qfunction import QFunction, QFunctionError
from .settings import MemorySettings, MemorySettingsError

__all__ = [
    "Case",
    "CaseBank",
    "CaseNotFound",
    "EmbeddingError",
    "ImportFormatError",
    "MementoMemoryError",
    "MemorySettings",
    "MemorySettingsError",
    "QFunction",
    "QFunctionError",
    "Recorded",
    "Retrieval",
    "ScoredCase",
    "StoreError",
    "Transition",
]
