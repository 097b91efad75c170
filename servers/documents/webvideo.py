"""The video of a web page: yt-dlp finds it (and the page's captions), the URL guard fetches every byte.

yt-dlp's extractors (the generic one reads HTML5 `<video>`/`<track>`; the site ones know the
video sites) run on a worker thread with one request handler of ours, which sends each of
their requests through `download` on the event loop: the URL guard on every hop and at the
socket, no proxy from the environment, the size and time caps. yt-dlp downloads nothing
itself: the chosen media file and caption track are fetched the same guarded way.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import anyio.to_thread

from memento.servers.common.errors import AccessDenied, ServerError, TimedOut, TooLarge
from memento.servers.common.webclient import Fetched

from .settings import DocumentsSettings
from .sources import Loaded

__all__ = ["PageVideo", "find_page_video", "page_may_hold_video"]

_VIDEO_HINT = re.compile(rb"<video\b|<audio\b|og:video|<iframe[^>]+(?:youtube|vimeo|dailymotion)", re.IGNORECASE)
_CAPTIONS_MAX_BYTES = 5 * 1024**2
_MAX_REQUESTS = 20  # what an extractor may ask for one page; more is a loop or a site this is not for
_CAPTION_FORMATS = ("vtt", "srt")


@dataclass(frozen=True)
class PageVideo:
    """The media of a page's video, and its captions' text when the page offers some."""

    page_url: str
    title: str
    media: Loaded | None  # None: only the captions could be read (`why_no_media` says why)
    captions: str | None
    captions_label: str  # e.g. "captions offered by the page (en)"
    captions_language: str
    why_no_media: str = ""


def page_may_hold_video(loaded: Loaded) -> bool:
    """Cheap test before yt-dlp is asked: a media tag, an og:video, or an embedded player of a video site."""
    return bool(_VIDEO_HINT.search(loaded.data[:2_000_000]))


async def find_page_video(page: Loaded, settings: DocumentsSettings) -> PageVideo | None:
    """The video on `page` (an http(s) page already downloaded), or None when yt-dlp finds none.

    A refusal of the URL guard or a cap on the way is raised, not taken for "no video".
    """
    refused: list[ServerError] = []

    def fetch(url: str) -> Fetched:
        if url == page.origin:  # the page itself: already read once, through the guard
            return Fetched(url, url, 200, page.content_type, page.data)
        try:
            return anyio.from_thread.run(_download, url, settings, int(settings.documents_max_bytes))
        except ServerError as exc:
            refused.append(exc)
            raise

    deadline = 2 * settings.http_timeout_s  # each request has the HTTP limit; the whole look has twice that
    try:
        with anyio.fail_after(deadline):
            info = await anyio.to_thread.run_sync(_extract, page.origin, fetch, settings.user_agent, abandon_on_cancel=True)
    except TimeoutError as exc:
        raise TimedOut(
            f"Looking for the video on {page.origin} took over {deadline:g} s (twice MEMENTO_HTTP_TIMEOUT_S); "
            "MEMENTO_DOCUMENTS_PAGE_VIDEO=false reads such pages as text."
        ) from exc
    stopped = [exc for exc in refused if isinstance(exc, AccessDenied | TooLarge)]
    if stopped:  # the guard or a cap said no: that is the answer, not "this page has no video"
        raise stopped[0]
    if info is None:
        return None
    captions, label, language = await _captions(info, settings)
    title = str(info.get("title") or "")
    chosen = _media_format(info)
    if chosen is None:
        if captions is None:
            return None
        why = "the site offers its video only in streamed pieces, which are not assembled here"
        return PageVideo(page.origin, title, None, captions, label, language, why)
    try:
        fetched = await _download(chosen["url"], settings, int(settings.documents_max_bytes))
    except TooLarge as exc:
        if captions is None:
            raise
        return PageVideo(page.origin, title, None, captions, label, language, f"the video file is too large to fetch ({exc})")
    name = f"{info.get('id') or 'video'}.{chosen.get('ext') or 'mp4'}"
    media = Loaded(fetched.content, name, fetched.url, fetched.content_type)
    return PageVideo(page.origin, title, media, captions, label, language)


async def _download(url: str, settings: DocumentsSettings, max_bytes: int) -> Fetched:
    from memento.servers.common.http import download

    return await download(url, settings, max_bytes=max_bytes)


def _extract(url: str, fetch: Any, user_agent: str) -> dict[str, Any] | None:
    """yt-dlp's view of the page (formats, subtitles), its every request made by `fetch`; None when it finds no video."""
    from yt_dlp import YoutubeDL
    from yt_dlp.networking.common import RequestHandler, Response
    from yt_dlp.networking.exceptions import HTTPError, RequestError, UnsupportedRequest
    from yt_dlp.utils import DownloadError, ExtractorError

    counted = [0]

    class GuardedRH(RequestHandler):  # yt-dlp derives the handler's key from the class name, which must end in RH
        _SUPPORTED_URL_SCHEMES = ("http", "https")
        _SUPPORTED_FEATURES = ()
        _SUPPORTED_PROXY_SCHEMES = ()

        def _check_extensions(self, extensions: dict[str, Any]) -> None:
            super()._check_extensions(extensions)
            for known in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
                extensions.pop(known, None)  # the guarded client has its own timeout and keeps no cookies

        def _send(self, request: Any) -> Any:
            if request.method not in ("GET", "HEAD"):
                raise UnsupportedRequest(f"{request.method} is not sent: only pages and files are read")
            counted[0] += 1
            if counted[0] > _MAX_REQUESTS:
                raise RequestError(f"more than {_MAX_REQUESTS} requests for one page")
            try:
                fetched = fetch(request.url)
            except ServerError as exc:
                status = getattr(exc, "status", None)
                if isinstance(status, int):
                    raise HTTPError(Response(io.BytesIO(b""), request.url, {}, status)) from exc
                raise RequestError(str(exc)) from exc
            headers = {"Content-Type": fetched.content_type, "Content-Length": str(len(fetched.content))}
            body = b"" if request.method == "HEAD" else fetched.content
            return Response(io.BytesIO(body), fetched.url, headers, fetched.status)

    class GuardedYoutubeDL(YoutubeDL):
        def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
            return super().build_request_director([GuardedRH], preferences)  # ours only: no other way out

    params = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "skip_download": True,
        "noplaylist": True,
        "playlist_items": "1",
        "cachedir": False,
        "proxy": "",
        "check_formats": False,
        "http_headers": {"User-Agent": user_agent},
        "logger": _Quiet(),
    }
    try:
        with GuardedYoutubeDL(params) as ydl:
            info = ydl.extract_info(url, download=False)
    except (DownloadError, ExtractorError, RequestError):
        # "unsupported URL", "no video found", a request refused: the caller raises a refusal, else reads the page
        return None
    if not isinstance(info, dict):
        return None
    entries = info.get("entries")
    if entries is not None:
        info = next((e for e in entries if isinstance(e, dict)), None)
    return info


class _Quiet:
    """yt-dlp's logger: nothing on stdout, which is the stdio transport's."""

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        pass


def _media_format(info: dict[str, Any]) -> dict[str, Any] | None:
    """The smallest plain-HTTP format with sound (a video with sound first); None when there is none to fetch whole."""
    formats = [f for f in (info.get("formats") or [info]) if isinstance(f, dict) and f.get("url")]
    plain = [f for f in formats if str(f.get("protocol") or "https") in ("http", "https")]
    if not plain:
        return None
    with_sound = [f for f in plain if f.get("acodec") != "none"]
    both = [f for f in with_sound if f.get("vcodec") != "none"]
    pool = both or with_sound or plain
    return min(pool, key=lambda f: f.get("filesize") or f.get("height") or 0) if len(pool) > 1 else pool[0]


async def _captions(info: dict[str, Any], settings: DocumentsSettings) -> tuple[str | None, str, str]:
    """The text of the page's captions in English if offered, else in any language, else the site's automatic ones."""
    for source, label in (("subtitles", "captions offered by the page"), ("automatic_captions", "the site's automatic captions")):
        tracks: dict[str, list[dict[str, Any]]] = info.get(source) or {}
        languages = sorted(tracks, key=lambda lang: (not lang.lower().startswith("en"), lang))
        for language in languages:
            usable = [t for t in tracks[language] if t.get("url") and t.get("ext", "vtt") in _CAPTION_FORMATS]
            if not usable:
                continue
            fetched = await _download(usable[0]["url"], settings, _CAPTIONS_MAX_BYTES)
            text, _ = fetched.text()
            if text.strip():
                return text, f"{label} ({language})", language
    return None, "", ""
