"""A numpy forward pass of a BERT sentence encoder (all-MiniLM-L6-v2): the `tokenizers` tokenizer,
safetensors weights and mean pooling, giving the vectors sentence-transformers gives, in a fraction
of its start-up time. It must not import torch or sentence-transformers, and it runs only BERT folders
whose pipeline is Transformer → mean Pooling (→ Normalize); `supports()` says which."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmbeddingError

__all__ = ["BertWeights", "MiniLM", "one_blas_thread", "supports"]

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"

# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32's own rounding. numpy has no erf and
# scipy.special alone costs 0.2 s to import, which is most of what this module saves.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
# Rows per feed-forward block: 3 MB of 1536-wide activations stay in cache for the element-wise
# GELU, and there are few enough matrix products (each threaded one waits for a core: 128-row blocks
# were 2-4x slower than 512 on a busy machine, and no faster on one thread).
_FEED_FORWARD_ROWS = 512
# A query or a few: below this many tokens the matrix products are small, and a second BLAS thread
# mostly waits for a core. Measured with one query under load (load average 6): 57-80 ms with the
# default threads, 16-40 ms with one. Big batches keep every thread.
_ONE_THREAD_TOKENS = 1024
_ONE_THREAD = threading.Lock()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread for the block: for small matrix products, where a second thread mostly waits for a core.

    The limit is the process's and is restored on exit, so one block at a time holds it: two overlapping
    blocks could otherwise restore each other's value and leave BLAS on one thread for good.
    """
    from threadpoolctl import threadpool_limits

    with _ONE_THREAD, threadpool_limits(limits=1, user_api="blas"):
        yield


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"Cannot read {path}: {exc}") from exc


def supports(folder: Path) -> bool:
    """True when `folder` is a sentence-transformers BERT model this module computes exactly."""
    try:
        modules_json = json.loads((folder / "modules.json").read_text())
        modules = [m.get("type") for m in modules_json]
        pooling = json.loads((folder / modules_json[1]["path"] / "config.json").read_text())
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, AttributeError, IndexError, KeyError, TypeError):
        return False
    pooled_by_mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(key) for key in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    )
    return (
        modules[:2] == [_TRANSFORMER, _POOLING]
        and modules[2:] in ([], [_NORMALIZE])
        and bool(pooled_by_mean_only)
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and (folder / "tokenizer.json").is_file()
        and (folder / "model.safetensors").is_file()
    )


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (hidden, 3 * hidden): query, key and value projections in one product
    qkv_bias: np.ndarray
    attention_out: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    intermediate: np.ndarray
    intermediate_bias: np.ndarray
    output: np.ndarray
    output_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class BertWeights:
    """The encoder's tensors, transposed once at load so every projection is `x @ W + b`."""

    words: np.ndarray
    positions: np.ndarray
    token_types: np.ndarray
    embedding_norm: tuple[np.ndarray, np.ndarray]
    layers: tuple[_Layer, ...]

    @classmethod
    def load(cls, path: Path, num_layers: int) -> BertWeights:
        from safetensors.numpy import load_file

        try:
            raw = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types and OSError
            raise EmbeddingError(f"Cannot read the weights in {path}: {exc}") from exc
        # Some exports prefix every name with the architecture ("bert."); the encoder is the same.
        tensors = {
            name.removeprefix("bert."): np.asarray(value, dtype=np.float32)
            for name, value in raw.items()
            if np.issubdtype(value.dtype, np.floating)  # not the int64 position_ids buffer
        }

        def get(name: str) -> np.ndarray:
            if name not in tensors:
                raise EmbeddingError(f"{path} has no tensor {name}; it is not a BERT encoder.")
            return tensors[name]

        def linear(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(get(f"{prefix}.weight").T), get(f"{prefix}.bias")

        def norm(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            return get(f"{prefix}.weight"), get(f"{prefix}.bias")

        layers = []
        for i in range(num_layers):
            at = f"encoder.layer.{i}"
            projections = [linear(f"{at}.attention.self.{part}") for part in ("query", "key", "value")]
            attention_out, attention_out_bias = linear(f"{at}.attention.output.dense")
            intermediate, intermediate_bias = linear(f"{at}.intermediate.dense")
            output, output_bias = linear(f"{at}.output.dense")
            layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(np.concatenate([w for w, _ in projections], axis=1)),
                    qkv_bias=np.concatenate([b for _, b in projections]),
                    attention_out=attention_out,
                    attention_out_bias=attention_out_bias,
                    attention_norm=norm(f"{at}.attention.output.LayerNorm"),
                    intermediate=intermediate,
                    intermediate_bias=intermediate_bias,
                    output=output,
                    output_bias=output_bias,
                    output_norm=norm(f"{at}.output.LayerNorm"),
                )
            )
        return cls(
            words=get("embeddings.word_embeddings.weight"),
            positions=get("embeddings.position_embeddings.weight"),
            token_types=get("embeddings.token_type_embeddings.weight"),
            embedding_norm=norm("embeddings.LayerNorm"),
            layers=tuple(layers),
        )


class MiniLM:
    """Sentence vectors from a BERT sentence-transformers folder, computed with numpy alone.

    Thread-safe: `embed` only reads the weights and the tokenizer once they are loaded.
    """

    def __init__(self, folder: Path, *, chunk_tokens: int = 8192) -> None:
        if not supports(folder):
            raise EmbeddingError(f"{folder} is not a BERT mean-pooling sentence-transformers folder.")
        config = _read_json(folder / "config.json")
        st_config = _read_json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").is_file() else {}
        modules = _read_json(folder / "modules.json")
        self.folder = folder
        self.chunk_tokens = chunk_tokens
        self.dimension = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.normalise = any(m.get("type") == _NORMALIZE for m in modules)
        self.lowercase = bool(st_config.get("do_lower_case", False))
        # sentence-transformers truncates to its max_seq_length, never beyond what positions exist.
        limit = int(config.get("max_position_embeddings", 512))
        self.max_length = min(int(st_config.get("max_seq_length") or limit), limit)
        self.weights = BertWeights.load(folder / "model.safetensors", int(config["num_hidden_layers"]))
        self.tokenizer = self._load_tokenizer(folder / "tokenizer.json")

    def _load_tokenizer(self, path: Path) -> Any:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
            raise EmbeddingError(f"Cannot read the tokenizer in {path}: {exc}") from exc
        # tokenizer.json ships truncation at 128 and fixed padding to 128; the pipeline truncates at
        # max_seq_length and pads to the longest text, and here texts are packed, not padded.
        tokenizer.enable_truncation(max_length=self.max_length, strategy="longest_first")
        tokenizer.no_padding()
        return tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, in order; unit vectors when the pipeline normalises."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        tokens = [e.ids for e in self.tokenizer.encode_batch([t.lower() if self.lowercase else t for t in texts])]
        if sum(len(t) for t in tokens) <= _ONE_THREAD_TOKENS:
            with one_blas_thread():
                return self._embed_chunks(tokens)
        return self._embed_chunks(tokens)

    def _embed_chunks(self, tokens: list[list[int]]) -> np.ndarray:
        out = np.empty((len(tokens), self.dimension), dtype=np.float32)
        start = 0
        while start < len(tokens):  # chunks of about `chunk_tokens` bound the memory a big batch takes
            end, size = start, 0
            while end < len(tokens) and (end == start or size + len(tokens[end]) <= self.chunk_tokens):
                size += len(tokens[end])
                end += 1
            out[start:end] = self._embed_packed(tokens[start:end])
            start = end
        return out

    def _embed_packed(self, tokens: list[list[int]]) -> np.ndarray:
        """Mean-pooled vectors of texts whose tokens are packed end to end, without padding.

        The pipeline pads a batch to its longest text and masks the padding out of attention and
        pooling; packing computes exactly those numbers for the real tokens and none for padding.
        """
        w = self.weights
        lengths = [len(ids) for ids in tokens]
        bounds = np.cumsum([0, *lengths])
        ids = np.fromiter((i for sequence in tokens for i in sequence), dtype=np.int64, count=int(bounds[-1]))
        positions = np.concatenate([np.arange(n) for n in lengths])
        hidden = w.words[ids] + w.positions[positions] + w.token_types[0]  # single sentences: type 0
        hidden = _layer_norm(hidden, *w.embedding_norm, self.eps)
        spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
        for layer in w.layers:
            hidden = self._attention(hidden, layer, spans)
            hidden = self._feed_forward(hidden, layer)
        pooled = np.add.reduceat(hidden, bounds[:-1], axis=0) / np.asarray(lengths, dtype=np.float32)[:, None]
        if self.normalise:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled

    def _attention(self, hidden: np.ndarray, layer: _Layer, spans: list[tuple[int, int]]) -> np.ndarray:
        """Self-attention within each text's own span of rows, then the residual and LayerNorm."""
        heads, head_size = self.heads, self.dimension // self.heads
        scale = np.float32(1.0 / np.sqrt(head_size))
        qkv = hidden @ layer.qkv
        qkv += layer.qkv_bias
        context = np.empty_like(hidden)
        for start, end in spans:
            # (3, heads, n, head_size), contiguous: on strided views numpy's stacked matmul leaves
            # BLAS and runs several times slower.
            q, k, v = np.ascontiguousarray(qkv[start:end].reshape(end - start, 3, heads, head_size).transpose(1, 2, 0, 3))
            scores = q @ k.transpose(0, 2, 1)
            scores *= scale
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context[start:end] = (scores @ v).transpose(1, 0, 2).reshape(end - start, self.dimension)
        attended = context @ layer.attention_out
        attended += layer.attention_out_bias
        attended += hidden
        return _layer_norm(attended, *layer.attention_norm, self.eps)

    def _feed_forward(self, hidden: np.ndarray, layer: _Layer) -> np.ndarray:
        """GELU feed-forward, residual and LayerNorm, in blocks of `_FEED_FORWARD_ROWS` rows."""
        out = np.empty_like(hidden)
        for start in range(0, len(hidden), _FEED_FORWARD_ROWS):
            rows = hidden[start : start + _FEED_FORWARD_ROWS]
            inner = rows @ layer.intermediate
            inner += layer.intermediate_bias
            block = _gelu(inner) @ layer.output
            block += layer.output_bias
            block += rows
            out[start : start + _FEED_FORWARD_ROWS] = _layer_norm(block, *layer.output_norm, self.eps)
        return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, in place: every caller passes a temporary of its own."""
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x)[:, None] / np.float32(x.shape[-1])  # one pass, no squared copy
    x *= np.float32(1.0) / np.sqrt(variance + np.float32(eps))
    x *= weight
    x += bias
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU BERT uses, not the tanh approximation: x · Φ(x), with Φ from erfc.

    In place on its temporaries, with no `where=` (14 ns an element against 0.2 for plain
    arithmetic): this runs on the widest activations of every layer.
    """
    # For z = |x| / √2 ≥ 0, erfc(z) ≈ poly(t) · exp(-z²) with t = 1 / (1 + p·z), and Φ(x) is
    # 1 - erfc(z)/2 for x ≥ 0 and erfc(z)/2 below: 0.5 + copysign(0.5 - erfc(z)/2, x).
    t = np.abs(x)
    t *= np.float32(_ERF_P / np.sqrt(2.0))
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    a1, a2, a3, a4, a5 = (np.float32(a / 2) for a in _ERF_A)  # halved: the polynomial gives erfc/2
    half_erfc = t * a5
    for coefficient in (a4, a3, a2, a1):
        half_erfc += coefficient
        half_erfc *= t
    np.square(x, out=t)
    t *= np.float32(-0.5)  # -z² = -x²/2
    np.exp(t, out=t)
    half_erfc *= t
    np.subtract(np.float32(0.5), half_erfc, out=half_erfc)
    np.copysign(half_erfc, x, out=half_erfc)
    half_erfc += np.float32(0.5)
    half_erfc *= x
    return half_erfc
