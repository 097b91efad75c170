"""The case memory's failures: `CaseMemoryError` and its kinds, from `memento.core.errors`.

CaseMemoryError
 ├── EmbeddingError       the embedding model could not be loaded or run
 ├── ImportFormatError    a JSONL line is malformed: names the line and field
 ├── CaseNotFound         no case or run with that id
 ├── StoreError           the Chroma store failed or is locked
 └── QFunctionError       Q cannot be trained, loaded or used as asked
"""

from memento.core.errors import (
    CaseMemoryError,
    CaseNotFound,
    EmbeddingError,
    ImportFormatError,
    QFunctionError,
    StoreError,
)

__all__ = ["CaseMemoryError", "CaseNotFound", "EmbeddingError", "ImportFormatError", "QFunctionError", "StoreError"]
