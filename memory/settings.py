"""Settings of the case memory, read from `MEMENTO_*` variables by the entry points.

The memory package stands alone (servers and the agent depend on it, not the
other way round), so it reads its own few variables with the same naming and
the same kind of error: a bad value names its variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["MemorySettings", "MemorySettingsError"]


class MemorySettingsError(ValueError):
    """A MEMENTO_* variable of the memory holds a value that cannot be used."""


class MemorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".memento", description="State directory (shared with the servers).")
    chroma_url: str = Field(
        default="",
        description="URL of a Chroma server (`chroma run`) shared by many agents; empty: an embedded store under MEMENTO_HOME/casebank.",
    )
    embedding_model: str = Field(
        default="",
        description="Embedding model: empty for the packaged all-MiniLM-L6-v2, a sentence-transformers folder, or openai:NAME.",
    )
    embedding_base_url: str = Field(default="", description="Base URL of an OpenAI-compatible embeddings endpoint (with openai:NAME).")
    embedding_api_key: str = Field(default="", description="API key of that endpoint (never logged).", repr=False)
    embedding_dimension: int = Field(default=0, ge=0, description="Vector size of an endpoint model (openai:NAME needs it).")
    memory_k: int = Field(default=4, ge=1, le=64, description="Cases retrieved per task (the paper's best K is 4).")
    memory_candidates: int = Field(default=64, ge=1, le=1000, description="Nearest cases re-ranked by the Q policy.")
    memory_policy: Literal["similarity", "q"] = Field(default="similarity", description="Default retrieval policy: similarity or q.")
    memory_temperature: float = Field(default=0.5, gt=0, description="Softmax temperature α when the Q policy explores.")
    memory_duplicate_threshold: float = Field(
        default=0.95, gt=0, le=1, description="Cosine similarity above which two different tasks count as near-duplicates."
    )
    memory_max_cases: int = Field(default=5000, ge=1, description="Size `memento memory prune` keeps the bank to.")
    memory_online_steps: int = Field(default=5, ge=0, le=100, description="Gradient steps of Q after each recorded episode (0: off).")

    @property
    def casebank_dir(self) -> Path:
        return self.home.expanduser() / "casebank"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> MemorySettings:
        environ = os.environ if environ is None else environ
        raw = {name: environ[f"MEMENTO_{name.upper()}"].strip() for name in cls.model_fields if environ.get(f"MEMENTO_{name.upper()}", "").strip()}
        raw.update(overrides)
        try:
            return cls(**raw)
        except ValidationError as exc:
            problems = [
                f"MEMENTO_{str(e['loc'][0]).upper()}={raw.get(str(e['loc'][0]))!r} is not valid: {e['msg']}" for e in exc.errors()
            ]
            raise MemorySettingsError("; ".join(problems)) from None
