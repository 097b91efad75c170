"""Test doubles and servers for the case memory: a fast deterministic embedder and a real `chroma run`."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tests.mcp_servers import free_port, listening_process


class HashEmbedder:
    """Bag-of-words vectors by hashing: shared words mean similar vectors. Fast and deterministic."""

    name = "hash-embedder-64"
    dimension = 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, slot % self.dimension] += 1.0 if slot & 1 else -1.0
            if not out[row].any():
                out[row, 0] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@contextmanager
def chroma_server(path: Path, timeout_s: float = 60) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a free loopback port; yields its URL."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    command = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with listening_process(command, port, "chroma run", timeout_s, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        yield f"http://127.0.0.1:{port}"
