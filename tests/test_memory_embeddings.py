"""Embedders: the packaged MiniLM loaded by path, and an OpenAI-compatible endpoint through the real SDK."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from memento.memory import CaseBank, EmbeddingError, MemorySettings
from memento.memory.embeddings import LocalEmbedder, default_model_path, make_embedder


def _vector(text: str, size: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 + 0.01 for b in digest[:size]]


@pytest.fixture(scope="module")
def embeddings_endpoint() -> Iterator[tuple[str, list[dict]]]:
    """A fake OpenAI embeddings API on 127.0.0.1, speaking the documented request and response shapes."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            size = 6 if body["model"] == "wrong-size" else 8
            reply = {
                "object": "list",
                "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": _vector(t, size)} for i, t in reversed(list(enumerate(inputs)))],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def test_an_openai_compatible_endpoint_embeds_in_order_normalised_and_cached(embeddings_endpoint) -> None:
    url, seen = embeddings_endpoint
    embedder = make_embedder("openai:fake-embed", base_url=url, api_key="test-key", dimension=8)
    vectors = embedder.embed(["alpha", "beta", "alpha"])
    assert vectors.shape == (3, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = np.asarray(_vector("beta", 8)) / np.linalg.norm(_vector("beta", 8))
    assert np.allclose(vectors[1], expected, atol=1e-6)  # the reply's order was reversed; rows follow `index`
    assert np.allclose(vectors[0], vectors[2])
    calls = len(seen)
    embedder.embed(["alpha", "beta"])
    assert len(seen) == calls  # served from the cache
    assert seen[-1]["path"] == "/v1/embeddings" and seen[-1]["auth"] == "Bearer test-key"
    assert seen[-1]["body"]["model"] == "fake-embed"


def test_an_endpoint_with_the_wrong_vector_size_is_a_clear_error(embeddings_endpoint) -> None:
    url, _ = embeddings_endpoint
    embedder = make_embedder("openai:wrong-size", base_url=url, api_key="k", dimension=8)
    with pytest.raises(EmbeddingError, match="MEMENTO_EMBEDDING_DIMENSION"):
        embedder.embed(["x"])
    with pytest.raises(EmbeddingError, match="MEMENTO_EMBEDDING_DIMENSION"):
        make_embedder("openai:any", base_url=url)


def test_a_case_bank_runs_on_an_endpoint_embedder(embeddings_endpoint, tmp_path: Path) -> None:
    url, _ = embeddings_endpoint
    settings = MemorySettings(
        home=tmp_path, embedding_model="openai:fake-embed", embedding_base_url=url, embedding_api_key="k", embedding_dimension=8
    )
    with CaseBank.open(settings) as bank:
        bank.record_episode("a task for the endpoint", ["step"], "done", 1.0)
        assert bank.retrieve("a task for the endpoint").cases[0].case.task == "a task for the endpoint"
        assert bank.stats()["embedder"] == "fake-embed"


@pytest.mark.slow
def test_the_packaged_minilm_loads_from_its_folder_without_the_hub() -> None:
    folder = default_model_path()
    assert (folder / "config.json").is_file()
    embedder = LocalEmbedder()
    assert embedder.dimension == 384
    vectors = embedder.embed(["What is the capital of France?", "Which city is France's capital?", "How do bees make honey?"])
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2


def test_a_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="not a sentence-transformers model folder"):
        LocalEmbedder(tmp_path / "nothing-here")
