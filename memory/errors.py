"""The case memory's failures.

    MementoMemoryError (named so to leave Python's MemoryError alone)
     ├── EmbeddingError       the embedding model could not be loaded or run
     ├── ImportFormatError    a JSONL line is malformed: names the line and field
     ├── CaseNotFound         no case or run with that id
     ├── StoreError           the Chroma store failed or is locked
     └── QFunctionError       (memory.qfunction) Q cannot be trained, loaded or used as asked
"""

from __future__ import annotations

__all__ = ["CaseNotFound", "EmbeddingError", "ImportFormatError", "MementoMemoryError", "StoreError"]


class MementoMemoryError(Exception):
    """A failure of the case memory, with a message saying what to do."""


class EmbeddingError(MementoMemoryError):
    pass


class ImportFormatError(MementoMemoryError):
    def __init__(self, path: str, line: int, field: str, problem: str) -> None:
        super().__init__(f"{path}, line {line}, field {field!r}: {problem}. Nothing was imported.")
        self.path, self.line, self.field = path, line, field


class CaseNotFound(MementoMemoryError):
    pass


class StoreError(MementoMemoryError):
    pass
