"""Audio and video through PyAV (ffmpeg inside the wheel): facts, a timed transcript, and a video's keyframes.

A recording is one section per transcript segment (kind "segment", with its
start and end), so `pages="00:30-02:00"` selects a time range. A video's
keyframes, taken at scene changes, are pictures in the segment of their time.
Its length is checked from the container before anything is decoded, and the
decoder stops at the limit too, whatever the header claims. Runs in the
conversion worker; never reads files.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import PurePosixPath
from typing import Any

from memento.core.errors import ConversionFailed, TooLarge

from ..model import Document, Picture, Section
from ..transcribe import SAMPLE_RATE, Segment, Transcript, transcribe
from .base import Blob, ConvertOptions
from .pictures import encode_picture

FORMATS = ("audio", "video")

_SCENE_CHANGE = 30.0  # mean absolute difference (0-255) of small grey thumbnails that counts as a new scene
_SCENE_SAMPLE_S = 0.5  # frames looked at, at most two per second of video
_PLUMBING_TAGS = ("encoder", "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id")
_ALL_FRAMES_UP_TO_S = 1200  # past 20 minutes only the codec's own keyframes are decoded, to stay in time


def convert(blob: Blob, options: ConvertOptions, captions: Transcript | None = None) -> Document:
    """The recording's facts, transcript and keyframes; `captions` (a page's own, already timed) replace transcription."""
    if not blob.data:
        raise ConversionFailed(f"{blob.name or 'The file'} is empty (0 bytes): there is no audio or video to read.")
    container = _open(blob.data, blob.name)
    with container:
        facts = _facts(container, blob.name)
    kind = "video" if "video_codec" in facts else "audio"
    duration = facts.get("duration_s")
    if duration is not None and duration > options.media_max_duration_s:
        raise TooLarge(
            f"This {kind} lasts {clock(duration)}, over the {clock(options.media_max_duration_s)} limit "
            "(MEMENTO_DOCUMENTS_MEDIA_MAX_DURATION_S); it was not decoded. Cut it into shorter parts and read those."
        )
    if options.metadata_only:
        return Document(kind, [], facts)

    notes: list[str] = []
    transcript: Transcript | None = captions
    if captions is not None:
        pass  # what was said is known already: no need to decode the sound and listen
    elif "audio_codec" in facts:
        samples = _decode_audio(blob.data, blob.name, options.media_max_duration_s)
        heard = len(samples) / SAMPLE_RATE
        if heard == 0:
            if kind == "audio":
                raise ConversionFailed("No sound could be decoded from this file: it is damaged or truncated.")
            notes.append("The audio track holds no decodable sound.")
        else:
            if duration and heard < duration * 0.9 - 1:
                notes.append(f"The audio stops at {clock(heard)} of the {clock(duration)} the file declares: it is truncated or damaged.")
            digest = hashlib.sha256(blob.data).hexdigest()
            transcript = transcribe(
                samples,
                digest,
                model=options.transcribe_model,
                cache_dir=options.transcript_dir,
                base_url=options.transcribe_base_url,
                api_key=options.transcribe_api_key,
            )
            if transcript.resumed_at is not None:
                notes.append(
                    f"The transcript was finished in this call, from {clock(transcript.resumed_at)} on, after an earlier call ran out of time."
                )
    elif kind == "audio":
        raise ConversionFailed("This file has no audio stream to transcribe.")
    else:
        notes.append("This video has no audio track, so there is no transcript.")

    frames: list[tuple[float, Picture]] = []
    if kind == "video" and options.keyframes:
        frames = _keyframes(blob.data, blob.name, options, duration)
        facts["keyframes"] = len(frames)
    segments = transcript.segments if transcript else []
    facts["segments"] = len(segments)
    if transcript is not None:
        facts["transcript_model"] = transcript.model
        if transcript.language:
            facts["language"] = transcript.language
    return Document(kind, _sections(segments, frames), facts, notes, preface=_preface(kind, facts, transcript, frames))


def captions_document(captions: Transcript, note: str) -> Document:
    """A video known only by its captions (its media too large or not offered whole): the timed text, no pictures."""
    facts: dict[str, Any] = {"segments": len(captions.segments), "transcript_model": captions.model}
    if captions.language:
        facts["language"] = captions.language
    lines = [
        "# Video: its captions only",
        f"\n## Transcript ({captions.model})",
        'Each line is [start–end] then the words. pages="00:30-02:00" reads a time range.',
    ]
    return Document("video", _sections(captions.segments, []), facts, [note], preface="\n".join(lines))


def clock(seconds: float, *, tenths: bool = False) -> str:
    """Seconds as MM:SS, or H:MM:SS from an hour on; with `tenths`, MM:SS.s."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
    return f"{text}.{int(seconds * 10) % 10}" if tenths else text


def _open(data: bytes, name: str) -> Any:
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ConversionFailed(f"{name or 'This file'} is not a readable audio or video file: it is damaged or truncated ({exc}).") from exc


def _facts(container: Any, name: str) -> dict[str, Any]:
    names = container.format.name.split(",")  # ffmpeg's demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    suffix = PurePosixPath(name.lower()).suffix.lstrip(".")
    facts: dict[str, Any] = {"container": suffix if suffix in names else names[0]}
    if container.duration is not None and container.duration > 0:
        facts["duration_s"] = round(container.duration / 1_000_000, 2)
    if container.bit_rate:
        facts["bit_rate_kbps"] = round(container.bit_rate / 1000)
    tags = {k.lower(): str(v)[:200] for k, v in (container.metadata or {}).items() if str(v).strip()}
    video = next((s for s in container.streams.video if not _is_cover_art(s)), None)
    audio = next(iter(container.streams.audio), None)
    if video is not None:
        facts["video_codec"] = video.codec_context.name
        facts["width"], facts["height"] = video.codec_context.width, video.codec_context.height
        if video.average_rate:
            facts["fps"] = round(float(video.average_rate), 2)
    if audio is not None:
        facts["audio_codec"] = audio.codec_context.name
        facts["sample_rate"] = audio.codec_context.sample_rate
        facts["channels"] = audio.codec_context.channels
        tags.update({k.lower(): str(v)[:200] for k, v in (audio.metadata or {}).items() if str(v).strip() and k.lower() not in tags})
    for key in _PLUMBING_TAGS:  # the muxer's bookkeeping, not the recording's
        tags.pop(key, None)
    if tags.get("language") == "und":
        del tags["language"]
    if tags:
        facts["tags"] = tags
    return facts


def _is_cover_art(stream: Any) -> bool:
    # An mp3's or m4a's album picture is a one-frame "video" stream; the file is still audio.
    disposition = getattr(stream, "disposition", None)
    return bool(disposition is not None and "attached_pic" in str(disposition).lower())


def _decode_audio(data: bytes, name: str, max_s: float) -> Any:
    """The first audio stream as mono float32 at 16 kHz, stopping with an error past `max_s` seconds."""
    import av
    import numpy as np

    limit = int(max_s * SAMPLE_RATE)
    chunks: list[Any] = []
    total = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    with _open(data, name) as container:
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    continue  # one damaged packet costs its few milliseconds, not the file
                for frame in frames:
                    for out in resampler.resample(frame):
                        chunk = out.to_ndarray().reshape(-1)
                        chunks.append(chunk)
                        total += len(chunk)
                if total > limit:
                    raise TooLarge(
                        f"The sound runs past the {clock(max_s)} limit (MEMENTO_DOCUMENTS_MEDIA_MAX_DURATION_S) though "
                        "the file declared less; it was not transcribed. Cut it into shorter parts."
                    )
        except av.FFmpegError:
            pass  # the stream ends early: what was decoded stands, and a note says it is short
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _keyframes(data: bytes, name: str, options: ConvertOptions, duration: float | None) -> list[tuple[float, Picture]]:
    """Frames where the picture changes most (the first frame always), at most `options.keyframes`, in time order."""
    import av
    import numpy as np

    candidates: list[tuple[float, float, Any]] = []  # (change, time, image)
    previous = None
    last_looked = -_SCENE_SAMPLE_S
    with _open(data, name) as container:
        stream = next((s for s in container.streams.video if not _is_cover_art(s)), None)
        if stream is None:
            return []
        if duration is None or duration > _ALL_FRAMES_UP_TO_S:
            stream.codec_context.skip_frame = "NONKEY"
        try:
            for frame in container.decode(stream):
                if frame.time is None or frame.time - last_looked < _SCENE_SAMPLE_S:
                    continue
                last_looked = frame.time
                image = frame.to_image()
                thumb = np.asarray(image.convert("L").resize((64, 36)), dtype=np.float32)
                change = 255.0 if previous is None else float(np.abs(thumb - previous).mean())
                previous = thumb
                if change >= _SCENE_CHANGE:
                    candidates.append((change, float(frame.time), image))
                    candidates.sort(key=lambda c: -c[0])
                    del candidates[options.keyframes :]  # keep the strongest changes only, never every frame in memory
        except av.FFmpegError:
            pass  # a damaged tail: the keyframes before it stand
    chosen = sorted(candidates, key=lambda c: c[1])
    return [
        (at, encode_picture(image, options.image_max_px, number, f"keyframe at {clock(at, tenths=True)}"))
        for number, (_, at, image) in enumerate(chosen, start=1)
    ]


def _sections(segments: list[Segment], frames: list[tuple[float, Picture]]) -> list[Section]:
    """Segments and keyframes in time order; a keyframe joins the segment it falls in, or stands alone."""
    sections: list[Section] = []
    pending = list(frames)
    for segment in segments:
        while pending and pending[0][0] < segment.start:
            at, picture = pending.pop(0)
            sections.append(Section(picture.marker, "segment", 0, clock(at), pictures=[picture], start_s=at, end_s=at))
        inside = [p for at, p in pending if at <= segment.end]
        pending = pending[len(inside) :]
        text = f"[{clock(segment.start)}–{clock(segment.end)}] {segment.text}"
        if inside:
            text += "\n" + "\n".join(p.marker for p in inside)
        span = f"{clock(segment.start)}-{clock(segment.end)}"
        sections.append(Section(text, "segment", 0, span, pictures=inside, start_s=segment.start, end_s=segment.end))
    for at, picture in pending:
        sections.append(Section(picture.marker, "segment", 0, clock(at), pictures=[picture], start_s=at, end_s=at))
    for number, section in enumerate(sections, start=1):
        section.number = number
    return sections


def _preface(kind: str, facts: dict[str, Any], transcript: Transcript | None, frames: list[tuple[float, Picture]]) -> str:
    length = clock(facts["duration_s"]) if "duration_s" in facts else "unknown length"
    lines = [f"# {kind.capitalize()}: {facts['container']}, {length}"]
    if kind == "video":
        fps = f" at {facts['fps']:g} fps" if "fps" in facts else ""
        lines.append(f"- Video: {facts['video_codec']}, {facts['width']}x{facts['height']}{fps}")
    if "audio_codec" in facts:
        lines.append(f"- Audio: {facts['audio_codec']}, {facts['sample_rate']:,} Hz, {facts['channels']} channel(s)")
    for key, value in facts.get("tags", {}).items():
        lines.append(f"- {key}: {value}")
    if frames:
        lines.append(f"- Keyframes: {len(frames)}, at scene changes, each shown as an image where it falls")
    if transcript is not None:
        language = f", language {transcript.language}" if transcript.language else ""
        lines.append(f"\n## Transcript ({transcript.model}{language})")
        lines.append('Each line is [start–end] then the words. pages="00:30-02:00" reads a time range.')
        if not transcript.segments:
            lines.append("\n(no speech found)")
    return "\n".join(lines)
