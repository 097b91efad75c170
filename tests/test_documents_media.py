"""Audio and video: transcripts with timestamps, tags, keyframes as images, time ranges, and bad recordings.

Speech is made with espeak-ng in the test and transcribed by the packaged
Whisper tiny.en on this machine; the OpenAI-compatible engine is checked
against a fake endpoint on 127.0.0.1. Server tests go through the official
MCP client over stdio and streamable HTTP.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from memento.convert.detect import detect_format
from memento.convert.formats import Blob, ConvertOptions, convert
from memento.core.errors import ConversionFailed, InvalidInput, TimedOut, TooLarge
from memento.servers.documents.reader import DocumentReader
from memento.servers.documents.settings import DocumentsSettings
from tests.mcp_servers import http_client_for, stdio_client_for
from tests.media_files import ESPEAK, make_media, silent_wav
from tests.sysdeps import needs

pytestmark = [needs(ESPEAK is not None, "espeak-ng (Debian package espeak-ng)")]

SPOKEN = ("weather", "sunny", "milk", "bread")  # words tiny.en hears reliably in the espeak sentence


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media"))


def _options(tmp_path: Path, **changes) -> ConvertOptions:
    return ConvertOptions(transcript_dir=str(tmp_path / "transcripts"), **changes)


def _convert(path: Path, options: ConvertOptions):
    data = path.read_bytes()
    return convert(Blob(data, path.name, detect_format(data[:8192], path.name)), options)


# --- detection ---------------------------------------------------------------------------------------------


def test_recordings_are_told_from_their_bytes_not_their_names(media: Path) -> None:
    kinds = {name: detect_format(media.joinpath(name).read_bytes()[:8192], "x.bin") for name in ("speech.wav", "note.mp3", "scenes.mp4")}
    assert kinds == {"speech.wav": "audio", "note.mp3": "audio", "scenes.mp4": "video"}
    assert detect_format(b"", "clip.mp4") == "video" and detect_format(b"", "clip.txt") == "text"
    assert detect_format("\ufeffhello".encode("utf-16"), "a.txt") == "text"  # FF FE is a text mark, not an MPEG frame


# --- the converter, in process -----------------------------------------------------------------------------


def test_speech_is_transcribed_with_a_timestamp_per_segment(media: Path, tmp_path: Path) -> None:
    document = _convert(media / "speech.wav", _options(tmp_path))
    text = document.markdown().lower()
    assert all(word in text for word in SPOKEN), text
    assert re.search(r"\[00:00–00:0\d\] hello", text)
    assert document.format == "audio" and 6 < document.metadata["duration_s"] < 8
    assert document.metadata["transcript_model"] == "whisper tiny.en (packaged)"


def test_a_time_range_selects_the_parts_of_the_recording_in_it(media: Path, tmp_path: Path) -> None:
    from memento.servers.documents.reader import select_parts

    document = _convert(media / "silent.mp4", _options(tmp_path))  # three keyframes, at 0, 2.5 and 5 s
    late = select_parts("00:04.9-", document)
    assert [p.marker for n in late for p in document.sections[n - 1].pictures] == [document.sections[2].pictures[0].marker]
    assert "keyframe at 00:05.0" in document.sections[2].text
    assert select_parts("00:00-00:03", document) == [1, 2]
    assert select_parts("2-3", document) == [2, 3]  # plain numbers still count parts
    with pytest.raises(InvalidInput, match="Nothing is said"):
        select_parts("01:00-02:00", document)
    with pytest.raises(InvalidInput, match="Malformed time range"):
        select_parts("00:30-00:10", document)


def test_a_video_gives_its_facts_transcript_and_one_keyframe_per_scene(media: Path, tmp_path: Path) -> None:
    document = _convert(media / "scenes.mp4", _options(tmp_path))
    facts = document.metadata
    assert (facts["video_codec"], facts["width"], facts["height"], facts["fps"]) == ("h264", 160, 96, 10.0)
    assert facts["container"] == "mp4" and facts["keyframes"] == 3
    pictures = [p for s in document.sections for p in s.pictures]
    assert [re.search(r"keyframe at (\S+),", p.marker).group(1) for p in pictures] == ["00:00.0", "00:02.5", "00:05.0"]
    assert all(p.mime_type == "image/png" and p.data.startswith(b"\x89PNG") for p in pictures)
    assert all(word in document.markdown().lower() for word in SPOKEN)


def test_keyframes_are_capped_at_the_setting_keeping_the_biggest_changes(media: Path, tmp_path: Path) -> None:
    document = _convert(media / "silent.mp4", _options(tmp_path, keyframes=2))
    assert document.metadata["keyframes"] == 2
    assert "no audio track" in document.markdown()


def test_a_transcript_cut_short_is_finished_from_where_it_stopped_not_redone(
    media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memento.convert import transcribe

    options = _options(tmp_path)
    data = (media / "speech.wav").read_bytes()
    runs: list[tuple[float, int]] = []  # (offset, samples) of each time the model is run
    real = transcribe._run_local
    monkeypatch.setattr(
        transcribe, "_run_local", lambda folder, samples, offset: runs.append((offset, len(samples))) or real(folder, samples, offset)
    )
    _convert(media / "speech.wav", options)
    [kept] = list((tmp_path / "transcripts").glob("*.jsonl"))
    # What a worker killed after its first segment leaves: that segment (marked, to see it survive), half a line, no end.
    # Where the model ends its first segment differs by CPU, so the cut is wherever this run's first segment ended.
    first = json.loads(kept.read_text().splitlines()[0])
    kept.write_text(json.dumps({**first, "text": "KEPT-FROM-BEFORE"}) + "\n" + '{"start": 9')
    resumed = convert(Blob(data, "speech.wav", "audio"), options).markdown()
    assert "KEPT-FROM-BEFORE" in resumed and "after an earlier call ran out of time" in resumed
    assert first["text"].strip() not in resumed  # the kept segment was not transcribed again
    [(_, whole), (offset, rest)] = runs
    assert offset == first["end"] and rest == whole - int(first["end"] * transcribe.SAMPLE_RATE)  # only what followed it was

    runs.clear()
    again = convert(Blob(data, "speech.wav", "audio"), options).markdown()
    assert runs == [] and "KEPT-FROM-BEFORE" in again and "ran out of time" not in again


def test_a_recording_longer_than_the_limit_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memento.convert.formats import media

    ten_hours = silent_wav(tmp_path / "ten_hours.wav", 10 * 3600)
    monkeypatch.setattr(media, "_decode_audio", lambda *a: pytest.fail("decoded a recording over the limit"))
    with pytest.raises(TooLarge, match=r"lasts 10:00:00, over the 2:00:00 limit"):
        _convert(ten_hours, _options(tmp_path))


def test_the_decoder_stops_at_the_limit_whatever_the_container_declared(media: Path) -> None:
    from memento.convert.formats.media import _decode_audio

    data = (media / "speech.wav").read_bytes()
    assert len(_decode_audio(data, "speech.wav", 60)) > 6 * 16_000
    with pytest.raises(TooLarge, match="runs past the 00:02 limit"):
        _decode_audio(data, "speech.wav", 2)


@pytest.mark.parametrize(
    ("name", "message"),
    [("empty.mp4", "is empty (0 bytes)"), ("stub.mp3", "not a readable audio or video file")],
)
def test_broken_recordings_get_an_error_that_says_what_is_wrong(media: Path, tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ConversionFailed, match=re.escape(message)):
        _convert(media / name, _options(tmp_path))


def test_a_truncated_mp3_is_read_as_far_as_it_goes_with_a_note(media: Path, tmp_path: Path) -> None:
    document = _convert(media / "half.mp3", _options(tmp_path))
    text = document.markdown()
    assert "it is truncated or damaged" in text and "weather" in text.lower()
    assert "milk" not in text.lower()


# --- the OpenAI-compatible engine, against a fake on loopback ----------------------------------------------


class _FakeTranscriptions(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TranscriptionHandler)
        self.seen: list[tuple[str, bytes, str]] = []


class _TranscriptionHandler(BaseHTTPRequestHandler):
    server: _FakeTranscriptions

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, body, self.headers.get("Authorization", "")))
        reply = {
            "text": "fake words",
            "language": "english",
            "duration": 6.0,
            "segments": [{"id": 0, "start": 0.5, "end": 2.0, "text": " fake words from the endpoint"}],
        }
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_transcriptions() -> Iterator[_FakeTranscriptions]:
    server = _FakeTranscriptions()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_openai_model_is_asked_over_the_official_sdk(media: Path, tmp_path: Path, fake_transcriptions) -> None:
    url = f"http://127.0.0.1:{fake_transcriptions.server_address[1]}/v1"
    options = _options(tmp_path, transcribe_model="openai:whisper-1", transcribe_base_url=url, transcribe_api_key="k-test")
    document = _convert(media / "speech.wav", options)
    assert "[00:00–00:02] fake words from the endpoint" in document.markdown()
    assert document.metadata["transcript_model"] == "openai:whisper-1"
    [(path, body, authorization)] = fake_transcriptions.seen
    assert path == "/v1/audio/transcriptions" and authorization == "Bearer k-test"
    assert b'name="model"\r\n\r\nwhisper-1' in body and b"RIFF" in body and b"WAVE" in body
    assert "k-test" not in repr(options)


def test_a_model_folder_without_a_model_is_refused_with_what_to_set(media: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionFailed, match="MEMENTO_TRANSCRIBE_MODEL must name"):
        _convert(media / "speech.wav", _options(tmp_path, transcribe_model=str(tmp_path)))


# --- the reader's time limit ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_transcription_over_the_time_limit_says_the_part_done_is_kept(media: Path) -> None:
    settings = DocumentsSettings(documents_roots=[media], documents_media_timeout_s=0.3, documents_workers=1)
    reader = DocumentReader(settings)
    try:
        with pytest.raises(TimedOut, match=r"MEMENTO_DOCUMENTS_MEDIA_TIMEOUT_S.*call again to go on"):
            await reader.read(str(media / "speech.wav"))
    finally:
        reader.close()


# --- over MCP ------------------------------------------------------------------------------------------------


@pytest.fixture(params=["stdio", "http"])
async def client(request, media: Path):
    opener = stdio_client_for if request.param == "stdio" else http_client_for
    async with opener("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(media)}, cwd=media) as connected:
        yield connected


@pytest.mark.anyio
@pytest.mark.integration
async def test_recordings_read_over_mcp_with_transcripts_tags_and_keyframe_images(client) -> None:
    mp3 = await client.call_tool("read_document", {"source": "note.mp3"})
    assert not mp3.is_error, mp3.content[0].text
    text = mp3.content[0].text
    assert "title: Shopping note" in text and all(word in text.lower() for word in SPOKEN)
    assert mp3.structured_content["format"] == "audio"

    video = await client.call_tool("read_document", {"source": "scenes.mp4"})
    assert not video.is_error, video.content[0].text
    images = [c for c in video.content if c.type == "image"]
    assert len(images) == 3 and all(i.mime_type == "image/png" for i in images)
    assert "keyframe at 00:02.5" in video.content[0].text

    late = await client.call_tool("read_document", {"source": "silent.mp4", "pages": "00:04.9-"})
    assert not late.is_error, late.content[0].text
    assert "keyframe at 00:05.0" in late.content[0].text and "keyframe at 00:02.5" not in late.content[0].text
    assert len([c for c in late.content if c.type == "image"]) == 1

    info = await client.call_tool("document_info", {"source": "scenes.mp4"})
    assert "duration_s: 7.5" in info.content[0].text and "video_codec: h264" in info.content[0].text


@pytest.mark.anyio
@pytest.mark.integration
async def test_bad_recordings_get_clear_errors_and_the_server_reads_on(client) -> None:
    for source, message in (
        ("ten_hours.wav", "lasts 10:00:00, over the 2:00:00 limit"),
        ("empty.mp4", "is empty (0 bytes)"),
        ("stub.mp3", "not a readable audio or video file"),
    ):
        result = await client.call_tool("read_document", {"source": source})
        assert result.is_error and message in result.content[0].text, (source, result.content[0].text)
    half = await client.call_tool("read_document", {"source": "half.mp3"})
    assert not half.is_error and "truncated or damaged" in half.content[0].text
    fine = await client.call_tool("read_document", {"source": "speech.wav"})
    assert not fine.is_error and "weather" in fine.content[0].text.lower()
