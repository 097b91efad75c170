"""The numpy MiniLM gives sentence-transformers' vectors (so banks written by either stay valid), and
embedding a query with the packaged model never imports torch or sentence-transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memento.memory import EmbeddingError
from memento.memory.embeddings import LocalEmbedder, default_model_path
from memento.memory.minilm import MiniLM, supports

LONG = " ".join(f"The {i}th clause of a long research brief names sources, dates and figures." for i in range(60))

TEXTS = [
    "What is the capital of France?",
    LONG,  # well over 256 tokens: the pipeline's truncation decides its vector
    "Ünïcödé: café, naïve, Zürich — 東京は日本の首都です。 Привет, мир! 🙂",
    "",
    "?!... ,,, ;; --- ***",
    "3.14159 2718 1e10 42 0x1F 1,000,000",
    "   surrounded   by    spaces   ",
    "a" * 700,
    "Find the 2023 revenue of the company that acquired DeepMind, and compare it with 2019's.",
]


@pytest.fixture(scope="module")
def light() -> MiniLM:
    return MiniLM(default_model_path())


@pytest.fixture(scope="module")
def together(light: MiniLM) -> np.ndarray:
    """The test set embedded in one call (computed once: the long text is most of the work)."""
    return light.embed(TEXTS)


@pytest.fixture(scope="module")
def reference() -> LocalEmbedder:
    """sentence-transformers, loaded as the project loads it (by path, hub off)."""
    return LocalEmbedder(engine="sentence-transformers")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_long_text_of_the_test_set_is_longer_than_the_pipeline_keeps(light: MiniLM) -> None:
    assert light.max_length == 256
    light.tokenizer.no_truncation()
    try:
        assert len(light.tokenizer.encode(LONG).ids) > 300
    finally:
        light.tokenizer.enable_truncation(max_length=light.max_length, strategy="longest_first")


@pytest.mark.slow
def test_numpy_vectors_equal_sentence_transformers_text_by_text(light: MiniLM, reference: LocalEmbedder) -> None:
    for text in TEXTS:
        ours = light.embed([text])
        theirs = reference.embed([text])
        assert float(_cosines(ours, theirs)[0]) >= 0.9999, text[:40]
        assert np.isclose(np.linalg.norm(ours), 1.0, atol=1e-5)


@pytest.mark.slow
def test_numpy_vectors_equal_sentence_transformers_on_a_batch_of_mixed_lengths(light: MiniLM, reference: LocalEmbedder) -> None:
    batch = [*TEXTS, *(f"question {i}: {'why ' * i}" for i in range(1, 40, 3))]
    ours = light.embed(batch)
    theirs = reference.embed(batch)
    assert ours.shape == theirs.shape == (len(batch), 384)
    assert float(_cosines(ours, theirs).min()) >= 0.9999


def test_a_text_gets_the_same_vector_alone_as_inside_a_batch(light: MiniLM, together: np.ndarray) -> None:
    alone = np.stack([light.embed([text])[0] for text in TEXTS])
    assert np.allclose(alone, together, atol=1e-5)
    assert float(together[0] @ together[-1]) < 0.9  # rows are not mixed up or shared


def test_chunks_smaller_than_a_batch_give_the_same_vectors(light: MiniLM, together: np.ndarray) -> None:
    light.chunk_tokens, default = 40, light.chunk_tokens  # one or two texts a chunk
    try:
        assert np.allclose(light.embed(TEXTS), together, atol=1e-5)
    finally:
        light.chunk_tokens = default


def test_similar_questions_are_closer_than_unrelated_ones(light: MiniLM) -> None:
    a, b, c = light.embed(["What is the capital of France?", "Which city is France's capital?", "How do bees make honey?"])
    assert float(a @ b) > float(a @ c) + 0.2


def test_a_query_runs_on_one_blas_thread_and_leaves_the_process_setting_as_it_found_it(light: MiniLM) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with ThreadPoolExecutor(4) as pool:  # overlapping small calls must not restore each other's limit
            vectors = list(pool.map(lambda i: light.embed([f"question {i}"]), range(16)))
        assert blas_threads() == before
    assert all(v.shape == (1, light.dimension) for v in vectors)


def test_an_empty_call_returns_no_rows(light: MiniLM) -> None:
    assert light.embed([]).shape == (0, 384)


def test_the_packaged_model_uses_numpy_and_a_chosen_folder_uses_sentence_transformers(tmp_path: Path) -> None:
    assert LocalEmbedder().runtime == "numpy"
    assert LocalEmbedder(engine="sentence-transformers").runtime == "sentence-transformers"
    chosen = tmp_path / "my-model"
    shutil.copytree(default_model_path(), chosen, ignore=shutil.ignore_patterns("*.safetensors"))
    assert LocalEmbedder(chosen).runtime == "sentence-transformers"


def test_a_folder_the_numpy_engine_cannot_run_is_refused_for_it(tmp_path: Path) -> None:
    folder = tmp_path / "cls-pooled"
    shutil.copytree(default_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert supports(default_model_path())
    assert not supports(folder)
    assert not supports(tmp_path)
    with pytest.raises(EmbeddingError, match="numpy engine"):
        LocalEmbedder(folder, engine="numpy")
    with pytest.raises(EmbeddingError, match="Unknown embedding engine"):
        LocalEmbedder(engine="onnx")  # type: ignore[arg-type]


_NO_TORCH = """
import sys
from memento.memory.embeddings import make_embedder
vector = make_embedder().embed_one("How many moons does Jupiter have?")
assert vector.shape == (384,), vector.shape
heavy = sorted(name for name in ("torch", "sentence_transformers", "transformers") if name in sys.modules)
print(",".join(heavy) or "none")
"""


def test_embedding_a_query_with_the_packaged_model_imports_no_torch() -> None:
    done = subprocess.run([sys.executable, "-c", _NO_TORCH], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"
