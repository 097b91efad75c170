"""Transcription speed of the default model (the packaged Whisper tiny.en) on this CPU.

Speech is made with espeak-ng (a few public-domain sentences, repeated with
variations to the length asked), saved as MP3 so decoding is part of the cost.
Printed: the real-time factor (seconds of audio per second of work, goal ≥ 5×)
of the settings the documents server uses (greedy decoding, silence skipped)
beside faster-whisper's defaults (beam of 5) measured in the same run, the
share of the words heard, the cold first read through the converter (model
load included) and a second read of the same file (the transcript kept).

    python bench/documents_transcribe.py [SECONDS]      (SECONDS of speech, default 120)
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import print_header

from tests.media_files import speak, to_mp3

PASSAGE = (
    "Four score and seven years ago our fathers brought forth on this continent a new nation, conceived in liberty, "
    "and dedicated to the proposition that all men are created equal. Now we are engaged in a great civil war, "
    "testing whether that nation, or any nation so conceived and so dedicated, can long endure. "
    "We are met on a great battlefield of that war. We have come to dedicate a portion of that field, as a final "
    "resting place for those who here gave their lives that that nation might live. "
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def heard_share(reference: str, transcript: str) -> float:
    said, heard = words(reference), set(words(transcript))
    return sum(1 for w in said if w in heard) / max(1, len(said))


def main(seconds: float) -> int:
    from memento.convert import transcribe
    from memento.convert.formats import Blob, ConvertOptions, convert
    from memento.convert.formats.media import _decode_audio

    print_header("documents: transcription (Whisper tiny.en, packaged)")
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng); nothing measured.")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        text = PASSAGE
        while len(text.split()) * 0.4 < seconds:  # espeak at 140 words a minute: about 0.43 s a word
            text += PASSAGE
        mp3 = to_mp3(speak(text, work / "speech.wav"), work / "speech.mp3", "bench")
        data = mp3.read_bytes()

        started = time.perf_counter()
        samples = _decode_audio(data, "speech.mp3", 7200)
        decoded_s = time.perf_counter() - started
        length = len(samples) / transcribe.SAMPLE_RATE
        print(f"audio:   {length:.1f} s of speech, MP3 {len(data) / 1024:.0f} KiB; decoded to 16 kHz in {decoded_s:.2f} s")

        model = transcribe._local_model(str(transcribe.default_model_path()))
        model.transcribe(samples[: transcribe.SAMPLE_RATE * 5], beam_size=1, language="en")  # warm-up
        print()
        print(f"{'decoding':32} {'time':>8} {'× real time':>12} {'words heard':>12}")
        for label, settings in (
            ("greedy, silence skipped (ours)", {"beam_size": 1, "vad_filter": True, "condition_on_previous_text": False}),
            ("beam 5 (faster-whisper default)", {"beam_size": 5}),
        ):
            started = time.perf_counter()
            pieces, _ = model.transcribe(samples, language="en", **settings)
            heard = " ".join(p.text for p in pieces)
            took = time.perf_counter() - started
            print(f"{label:32} {took:7.2f}s {length / took:11.1f}× {heard_share(text, heard):11.0%}")

        options = ConvertOptions(transcript_dir=str(work / "transcripts"))
        transcribe._local_model.cache_clear()
        started = time.perf_counter()
        convert(Blob(data, "speech.mp3", "audio"), options)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        convert(Blob(data, "speech.mp3", "audio"), options)
        again = time.perf_counter() - started
        print()
        print(f"read_document's conversion, first read (model load, decode, transcribe): {cold:.2f} s ({length / cold:.1f}× real time)")
        print(f"second read of the same file (transcript kept by content hash):         {again:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 120.0))
