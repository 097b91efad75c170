"""The video of a web page, found by yt-dlp on pages served on 127.0.0.1 and fetched through the URL guard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from mcp import Client

from memento.convert.captions import parse_captions
from memento.core.errors import AccessDenied, TooLarge
from memento.servers.common.urls import UrlPolicy, check_url
from memento.servers.documents.reader import DocumentReader, select_parts
from memento.servers.documents.settings import DocumentsSettings
from tests.loopback import serving
from tests.mcp_servers import stdio_client_for
from tests.media_files import ESPEAK, SENTENCE, make_video, speak
from tests.sysdeps import needs

pytestmark = [pytest.mark.anyio, needs(ESPEAK is not None, "espeak-ng (Debian package espeak-ng)")]

PRIVATE_MEDIA = "http://10.255.255.1/talk.mp4"  # never connected to: the guard refuses it first
CAPTIONS = """WEBVTT

NOTE written by the page's authors

00:00:00.500 --> 00:00:03.000 align:start
The lighthouse keeper counts <b>cobalt</b> gulls.

00:00:03.000 --> 00:00:06.500
Seventeen of them &amp; one heron.
"""
PAGES = {
    "/talk.html": "<html><head><title>A short talk</title></head><body><h1>A short talk</h1>"
    '<video controls width="160" src="/talk.mp4"></video></body></html>',
    "/captioned.html": "<html><head><title>With captions</title></head><body><h1>With captions</h1>"
    '<video controls><source src="/talk.mp4" type="video/mp4">'
    '<track kind="captions" src="/talk.vtt" srclang="en" label="English"></video></body></html>',
    "/away.html": "<html><head><title>Moved away</title></head><body>"
    '<video controls><source src="/away.mp4" type="video/mp4"></video></body></html>',
    "/plain.html": "<html><head><title>No video</title></head><body><p>plain-page-token</p></body></html>",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("video-site")
    video = make_video(folder / "talk.mp4", speak(SENTENCE, folder / "talk.wav")).read_bytes()
    files = {path: ("text/html; charset=utf-8", page.encode()) for path, page in PAGES.items()}
    files["/talk.mp4"] = ("video/mp4", video)
    files["/talk.vtt"] = ("text/vtt", CAPTIONS.encode())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            if self.path == "/away.mp4":
                self.send_response(302)
                self.send_header("Location", PRIVATE_MEDIA)
                self.end_headers()
                return
            if self.path not in files:
                self.send_error(404)
                return
            kind, body = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

    with serving(Handler) as base:
        yield base


@pytest.fixture
async def reader(tmp_path: Path) -> AsyncIterator[DocumentReader]:
    # Only the test site's own host is let through; every other private address stays refused.
    settings = DocumentsSettings(documents_roots=[tmp_path], allowed_hosts=["127.0.0.1"], documents_workers=1)
    opened = DocumentReader(settings)
    try:
        yield opened
    finally:
        opened.close()


async def test_the_video_of_an_html5_page_is_transcribed_with_its_keyframes(site: str, reader: DocumentReader) -> None:
    opened, page = await reader.read(f"{site}/talk.html", max_length=100_000)
    text = page.content.lower()
    assert opened.document.format == "video" and opened.origin == f"{site}/talk.html"
    assert all(word in text for word in ("weather", "sunny", "milk")), text
    assert "its sound was transcribed" in text
    assert opened.document.metadata["keyframes"] >= 2 and opened.document.metadata["media_url"] == f"{site}/talk.mp4"
    later = select_parts("00:03-", opened.document)
    assert later and all(opened.document.sections[n - 1].end_s >= 3 for n in later)  # start/end ranges as for a file


async def test_a_pages_captions_are_read_instead_of_transcribing(site: str, reader: DocumentReader) -> None:
    opened, page = await reader.read(f"{site}/captioned.html", max_length=100_000)
    text = page.content
    assert "The lighthouse keeper counts cobalt gulls." in text and "Seventeen of them & one heron." in text
    assert "weather" not in text.lower()  # the speech was not transcribed: the words come from the captions
    assert "captions offered by the page (en)" in text
    assert opened.document.metadata["transcript_model"] == "captions offered by the page (en)"
    assert opened.document.metadata["keyframes"] >= 2


async def test_media_redirected_to_a_private_address_is_refused_by_the_guard(site: str, reader: DocumentReader) -> None:
    with pytest.raises(AccessDenied) as refused:
        await reader.read(f"{site}/away.html")
    assert PRIVATE_MEDIA in str(refused.value) and "a private address" in str(refused.value)
    # the same decision the guard makes before any connection, here on the address alone
    with pytest.raises(AccessDenied, match="a private address"):
        check_url(PRIVATE_MEDIA, UrlPolicy(allow_hosts=frozenset({"127.0.0.1"})))


async def test_a_video_too_large_to_fetch_is_read_from_its_captions_alone_or_refused_without_any(site: str, tmp_path: Path) -> None:
    settings = DocumentsSettings(documents_roots=[tmp_path], allowed_hosts=["127.0.0.1"], documents_max_bytes=8_000)
    small = DocumentReader(settings)
    try:
        opened, page = await small.read(f"{site}/captioned.html", pages="00:04-")
        with pytest.raises(TooLarge, match="8,000-byte limit"):
            await small.read(f"{site}/talk.html")
    finally:
        small.close()
    assert opened.document.format == "video" and "Seventeen of them & one heron." in page.content
    assert "cobalt" not in page.content  # the range still selects by time
    assert "too large to fetch" in page.content and "keyframes" not in opened.document.metadata


async def test_a_page_without_a_video_is_read_as_a_page(site: str, reader: DocumentReader) -> None:
    opened, page = await reader.read(f"{site}/plain.html")
    assert opened.document.format == "html" and "plain-page-token" in page.content


async def test_page_videos_can_be_turned_off(site: str, tmp_path: Path) -> None:
    settings = DocumentsSettings(documents_roots=[tmp_path], allowed_hosts=["127.0.0.1"], documents_page_video=False)
    off = DocumentReader(settings)
    try:
        opened, page = await off.read(f"{site}/talk.html")
    finally:
        off.close()
    assert opened.document.format == "html" and "A short talk" in page.content


async def test_the_read_tool_tells_a_model_that_it_reads_the_video_of_a_page(tmp_path: Path) -> None:
    from memento.servers.documents.server import build

    async with Client(build(DocumentsSettings(documents_roots=[tmp_path]))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    description = tools["read_document"].description or ""
    assert "video" in description and "captions" in description


@pytest.mark.integration
async def test_a_video_page_reads_over_stdio_with_keyframe_images_and_nothing_stray_on_the_transport(site: str, tmp_path: Path) -> None:
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path), "MEMENTO_ALLOWED_HOSTS": "127.0.0.1"}
    async with stdio_client_for("documents", env=env, cwd=tmp_path) as client:
        result = await client.call_tool("read_document", {"source": f"{site}/captioned.html", "pages": "00:00-00:02"})
        assert not result.is_error, result.content[0].text
        assert "cobalt gulls" in result.content[0].text and "Seventeen" not in result.content[0].text
        assert any(block.type == "image" for block in result.content)
        assert result.structured_content["source"] == f"{site}/captioned.html"


def test_every_request_of_yt_dlp_goes_through_the_fetch_it_is_given(site: str) -> None:
    import urllib.request

    from memento.servers.common.webclient import Fetched
    from memento.servers.documents.webvideo import _extract

    asked: list[str] = []

    def fetch(url: str) -> Fetched:  # stands for the guarded download: the test site's own bytes
        asked.append(url)
        with urllib.request.urlopen(url, timeout=10) as response:
            return Fetched(url, response.url, response.status, response.headers.get("Content-Type", ""), response.read())

    info = _extract(f"{site}/captioned.html", fetch, "memento-test")
    assert info is not None and info["subtitles"]["en"][0]["url"] == f"{site}/talk.vtt"
    assert asked and all(url.startswith(site) for url in asked)

    def refuse(url: str) -> Fetched:
        asked.append(url)
        raise AccessDenied(f"Refused {url!r}")

    asked.clear()
    assert _extract(f"{site}/talk.html", refuse, "memento-test") is None  # nothing reached the site: no video found
    assert asked == [f"{site}/talk.html"]


def test_captions_in_webvtt_and_srt_become_timed_segments() -> None:
    vtt = parse_captions(CAPTIONS)
    assert [(s.start, s.end) for s in vtt] == [(0.5, 3.0), (3.0, 6.5)]
    assert vtt[0].text == "The lighthouse keeper counts cobalt gulls."
    srt = parse_captions("1\n00:01:02,250 --> 00:01:04,000\nFirst line\nsecond line\n\n2\n00:01:04,000 --> 00:01:05,000\n<i>Next</i>\n")
    assert [(s.start, s.text) for s in srt] == [(62.25, "First line second line"), (64.0, "Next")]
    rolling = parse_captions("WEBVTT\n\n00:00.000 --> 00:01.000\nsame words\n\n00:01.000 --> 00:02.000\nsame words\n")
    assert [(s.start, s.end, s.text) for s in rolling] == [(0.0, 2.0, "same words")]
