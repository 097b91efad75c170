"""Recordings the media tests make on the spot: speech from espeak-ng, MP3 and MP4 through PyAV, and liars.

Nothing here is downloaded: the speech is synthesised, the video is three
solid colours (so its scene changes are known), and the ten-hour WAV is silence
at 100 Hz in a sparse file.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

__all__ = ["ESPEAK", "SENTENCE", "make_media", "make_video", "silent_wav"]

ESPEAK = shutil.which("espeak-ng")
SENTENCE = "Hello. The weather today is sunny and warm. Please remember to buy milk and bread."
SCENES = ((200, 30, 30), (30, 200, 30), (30, 30, 200))  # 2.5 s each: changes at 2.5 s and 5.0 s


def speak(text: str, path: Path) -> Path:
    assert ESPEAK, "espeak-ng is needed to make speech"
    subprocess.run([ESPEAK, "-s", "140", "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


def to_mp3(wav: Path, path: Path, title: str) -> Path:
    import av

    with av.open(str(wav)) as source, av.open(str(path), "w", format="mp3") as out:
        out.metadata["title"] = title
        stream = out.add_stream("libmp3lame", rate=source.streams.audio[0].rate)
        for frame in source.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_video(path: Path, speech: Path | None, scenes=SCENES, seconds_each: float = 2.5, fps: int = 10) -> Path:
    """An H.264 MP4 of solid-colour scenes, with `speech` as its AAC sound track."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        audio = out.add_stream("aac", rate=22050) if speech is not None else None  # every stream before the first packet
        number = 0
        for colour in scenes:
            for _ in range(int(seconds_each * fps)):
                pixels = np.zeros((96, 160, 3), np.uint8)
                pixels[:] = colour
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts, frame.time_base = number, Fraction(1, fps)
                number += 1
                for packet in video.encode(frame):
                    out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if speech is not None and audio is not None:
            with av.open(str(speech)) as source:
                for frame in source.decode(audio=0):
                    frame.pts = None
                    for packet in audio.encode(frame):
                        out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
    return path


def silent_wav(path: Path, seconds: int, rate: int = 100) -> Path:
    """A mono 16-bit WAV of `seconds` of silence, written sparse: ten hours at 100 Hz is 7 MB of zeros on no disk."""
    size = seconds * rate * 2
    header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", size)
    with path.open("wb") as out:
        out.write(header)
        out.truncate(len(header) + size)
    return path


def make_media(folder: Path) -> Path:
    """Every recording the tests read, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    wav = speak(SENTENCE, folder / "speech.wav")
    mp3 = to_mp3(wav, folder / "note.mp3", "Shopping note")
    data = mp3.read_bytes()
    (folder / "half.mp3").write_bytes(data[: len(data) // 2])  # cut mid-stream: what is there is read, with a note
    (folder / "stub.mp3").write_bytes(data[:300])  # a tag and no sound
    make_video(folder / "scenes.mp4", wav)
    make_video(folder / "silent.mp4", None)
    (folder / "empty.mp4").write_bytes(b"")
    silent_wav(folder / "ten_hours.wav", 10 * 3600)
    return folder
