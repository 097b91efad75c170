"""The documents service without MCP: load a source, convert it (bounded, cached), select, paginate.

`DocumentReader` is what the tools call; tests and other packages can use it
directly. It owns the worker pool and the cache and must be closed. Hashing
and detection run on a thread and conversions in a worker process, so the
event loop only waits; an archive member is expanded in the worker too.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio.to_thread

from memento.convert.detect import detect_format, zip_member_names
from memento.convert.formats import Blob, ConvertOptions, Extracted
from memento.convert.formats.cells import CellsReport
from memento.convert.model import Document, Picture
from memento.convert.passages import Passage, rank_passages
from memento.convert.worker import WorkerPool
from memento.servers.common.errors import InvalidInput, TimedOut, shown
from memento.servers.common.paging import Page, paginate

from .cache import DocumentCache
from .settings import DocumentsSettings
from .sources import Loaded, load_source, split_member

__all__ = ["DocumentReader", "Opened", "Rendered", "parse_pages"]

_CONVERT = "memento.convert.formats:convert"
_CONVERT_MEMBER = "memento.convert.formats:convert_member"
_CONVERT_MEDIA = "memento.convert.formats.media:convert"  # with a page's captions in place of transcription
_PART_COUNT = "memento.convert.formats.render:part_count"
_RENDER = "memento.convert.formats.render:render"
_CELLS = "memento.convert.formats.cells:read_cells"
_RENDERABLE = {"pdf": "page", "pptx": "slide", "image": "page"}  # as formats.render.RENDERABLE, without importing it here
_MEDIA = ("audio", "video")
_TIME = r"\d{1,6}(?::\d{1,2}){0,2}(?:\.\d+)?"
_TIMES = re.compile(rf"^\s*({_TIME})?\s*(?:-\s*({_TIME})?\s*)?$")
_PAGES = re.compile(r"^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})?\s*)?$")  # nine digits: past any real page count


@dataclass(frozen=True)
class Opened:
    """A converted document and where it came from."""

    name: str  # file or member name, for display
    origin: str  # a path, a URL, "data: URI", or any of these followed by !member
    size_bytes: int
    document: Document
    cached: bool
    content_type: str = ""


@dataclass(frozen=True)
class Rendered:
    """Pages or slides of a document drawn as pictures."""

    name: str
    origin: str
    format: str
    kind: str  # "page" or "slide"
    count: int  # pages or slides in the document
    numbers: list[int]  # those drawn, in order
    left_out: list[int]  # selected but over MEMENTO_DOCUMENTS_RENDER_MAX_PAGES
    pictures: list[Picture]


def _identify(loaded: Loaded) -> tuple[str, str]:
    """The content's SHA-256 and detected format: seconds of CPU for a large file, so run on a thread."""
    head = loaded.data[:8192]
    zip_names = zip_member_names(loaded.data) if head.startswith(b"PK") else None
    return hashlib.sha256(loaded.data).hexdigest(), detect_format(head, loaded.name, zip_names, data=loaded.data)


class DocumentReader:
    def __init__(self, settings: DocumentsSettings) -> None:
        self.settings = settings
        self.options = ConvertOptions(
            max_rows=settings.documents_max_rows,
            ocr=settings.documents_ocr,
            tesseract_cmd=settings.tesseract_cmd,
            ocr_languages=settings.ocr_languages,
            transcribe_model=settings.transcribe_model,
            transcribe_base_url=settings.transcribe_base_url,
            transcribe_api_key=settings.transcribe_api_key,
            transcript_dir=str(settings.cache_dir / "transcripts"),
            media_max_duration_s=settings.documents_media_max_duration_s,
            keyframes=settings.documents_keyframes,
            zip_max_members=settings.documents_zip_max_members,
            zip_max_bytes=int(settings.documents_zip_max_bytes),
            member_max_bytes=min(int(settings.documents_max_bytes), int(settings.documents_zip_max_bytes)),
            image_max_px=settings.documents_image_max_px,
        )
        self.pool = WorkerPool(
            settings.documents_workers,
            int(settings.documents_memory_limit),
            settings.documents_timeout_s,
            settings_prefix="MEMENTO_DOCUMENTS",
        )
        self.cache = DocumentCache(int(settings.documents_cache_bytes))

    def close(self) -> None:
        self.pool.close()

    def within(self, folder: Path) -> DocumentReader:
        """This reader (its workers and cache, shared) with `folder` as its only root for local files.

        The cache is keyed by content, so a confined call reuses a conversion only of bytes it could read itself.
        """
        view = copy.copy(self)
        view.settings = self.settings.model_copy(update={"documents_roots": [folder]})
        return view

    async def open(self, source: str, *, metadata_only: bool = False) -> Opened:
        outer, members = split_member(source.strip())
        loaded = await load_source(outer, self.settings)
        digest, fmt = await anyio.to_thread.run_sync(_identify, loaded)
        options = replace(self.options, metadata_only=True) if metadata_only else self.options
        if members:
            return await self._open_member(loaded, digest, fmt, tuple(members), options)
        if fmt == "html" and not metadata_only and self.settings.documents_page_video and loaded.origin.startswith(("http:", "https:")):
            opened = await self._open_page_video(loaded, options)
            if opened is not None:
                return opened
        key = f"{digest}:{fmt}:{hash(options)}"
        entry = self.cache.get(key)
        if isinstance(entry, Document):
            return Opened(loaded.name, loaded.origin, len(loaded.data), entry, True, loaded.content_type)
        document = await self._convert(Blob(loaded.data, loaded.name, fmt), options)
        self.cache.put(key, document)
        return Opened(loaded.name, loaded.origin, len(loaded.data), document, False, loaded.content_type)

    async def _open_page_video(self, page: Loaded, options: ConvertOptions) -> Opened | None:
        """The video a web page carries, read like a media file (the page's captions before transcription); None if none."""
        from .webvideo import find_page_video, page_may_hold_video

        if not page_may_hold_video(page):
            return None
        found = await find_page_video(page, self.settings)
        if found is None:
            return None
        captions = None
        if found.captions:
            from memento.convert.captions import parse_captions
            from memento.convert.transcribe import Transcript

            segments = parse_captions(found.captions)
            captions = Transcript(segments, found.captions_language, found.captions_label) if segments else None
        if found.media is None:
            if captions is None:
                return None
            from memento.convert.formats.media import captions_document

            document = captions_document(
                captions, f"This is the video on the page {found.page_url}, read from {found.captions_label} only: {found.why_no_media}."
            )
            document.metadata.update({"page": found.page_url, **({"title": found.title} if found.title else {})})
            return Opened(page.name, found.page_url, len(found.captions or ""), document, False, "text/vtt")
        digest, fmt = await anyio.to_thread.run_sync(_identify, found.media)
        if fmt not in _MEDIA:
            return None  # what yt-dlp pointed at is no recording: read the page as a page
        key = f"{digest}:{fmt}:{hash(options)}:{hashlib.sha256((found.captions or '').encode()).hexdigest()}"
        entry = self.cache.get(key)
        cached = isinstance(entry, Document)
        if not isinstance(entry, Document):
            entry = await self._convert(Blob(found.media.data, found.media.name, fmt), options, captions)
            entry.metadata.update({"page": found.page_url, "media_url": found.media.origin})
            if found.title:
                entry.metadata["title"] = found.title
            heard = f"its transcript is {found.captions_label}" if captions else "its sound was transcribed"
            entry.notes.insert(0, f"This is the video on the page {found.page_url}; {heard}.")
            self.cache.put(key, entry)
        return Opened(found.media.name, found.page_url, len(found.media.data), entry, cached, found.media.content_type)

    async def _convert(self, blob: Blob, options: ConvertOptions, captions: Any = None) -> Document:
        if blob.format not in _MEDIA:
            return await self.pool.call(_CONVERT, blob, options)
        # Transcription takes minutes where other formats take seconds: its own limit, and what a cut means.
        timeout_s = self.settings.documents_media_timeout_s
        target, args = (_CONVERT, (blob, options)) if captions is None else (_CONVERT_MEDIA, (blob, options, captions))
        try:
            return await self.pool.call(target, *args, timeout_s=timeout_s)
        except TimedOut as exc:
            raise TimedOut(
                f"Transcribing this {blob.format} took longer than {timeout_s:g} s (MEMENTO_DOCUMENTS_MEDIA_TIMEOUT_S) and was "
                "stopped. The part transcribed so far is kept: call again to go on from where it stopped."
            ) from exc

    async def _open_member(self, archive: Loaded, digest: str, fmt: str, members: tuple[str, ...], options: ConvertOptions) -> Opened:
        # The member is expanded in the worker, under its memory and time limits; only its document comes back.
        origin = "!".join((archive.origin, *members))
        key = f"{digest}!{'!'.join(members)}:{hash(options)}"
        entry = self.cache.get(key)
        cached = isinstance(entry, Extracted)
        if not isinstance(entry, Extracted):
            entry = await self.pool.call(_CONVERT_MEMBER, Blob(archive.data, archive.name, fmt), members, options)
            self.cache.put(key, entry)
        return Opened(entry.name, origin, entry.size_bytes, entry.document, cached)

    async def read(self, source: str, start_index: int = 0, max_length: int = 20_000, pages: str | None = None) -> tuple[Opened, Page]:
        opened = await self.open(source)
        numbers = select_parts(pages, opened.document) if pages else None
        text = opened.document.markdown(numbers)
        return opened, paginate(text, start_index, max_length)

    async def render(self, source: str, pages: str | None = None) -> Rendered:
        """Draw the selected pages or slides (the first one when `pages` is None) as pictures, at most the setting's count."""
        outer, members = split_member(source.strip())
        if members:
            raise InvalidInput("render_pages cannot draw a file inside an archive yet; extract it, or read it with read_document.")
        loaded = await load_source(outer, self.settings)
        _, fmt = await anyio.to_thread.run_sync(_identify, loaded)
        kind = _RENDERABLE.get(fmt)
        if kind is None:
            raise InvalidInput(
                f"render_pages draws PDF pages, PowerPoint slides and images; {shown(loaded.name)} is {fmt}. "
                "Read it with read_document (pictures inside Office files are listed there by name and alt text)."
            )
        blob = Blob(loaded.data, loaded.name, fmt)
        count = await self.pool.call(_PART_COUNT, blob, self.options)
        numbers = parse_numbers(pages, count, kind, fmt) if pages else [1]
        most = self.settings.documents_render_max_pages
        pictures = await self.pool.call(_RENDER, blob, numbers[:most], self.options)
        return Rendered(loaded.name, loaded.origin, fmt, kind, count, numbers[:most], numbers[most:], pictures)

    async def cells(self, source: str, sheet: str | None, cell_range: str | None) -> tuple[str, str, CellsReport]:
        """The cells of a workbook's range with their formatting; (name, origin, report)."""
        outer, members = split_member(source.strip())
        if members:
            raise InvalidInput("read_cells cannot open a workbook inside an archive yet; extract it first.")
        loaded = await load_source(outer, self.settings)
        _, fmt = await anyio.to_thread.run_sync(_identify, loaded)
        if fmt != "xlsx":
            raise InvalidInput(f"read_cells reads Excel .xlsx workbooks; {shown(loaded.name)} is {fmt}. Use read_document for its values.")
        blob = Blob(loaded.data, loaded.name, fmt)
        report = await self.pool.call(_CELLS, blob, sheet, cell_range, self.options, self.settings.documents_max_cells)
        return loaded.name, loaded.origin, report

    async def info(self, source: str) -> tuple[Opened, dict[str, Any]]:
        opened = await self.open(source, metadata_only=True)
        facts = {
            "format": opened.document.format,
            "size_bytes": opened.size_bytes,
            "name": opened.name,
            "origin": opened.origin,
            **({"content_type": opened.content_type} if opened.content_type else {}),
            **opened.document.metadata,
        }
        return opened, facts

    async def search(self, source: str, query: str, top_k: int = 5) -> tuple[Opened, list[Passage]]:
        if not query.strip():
            raise InvalidInput("query is empty: pass the words or question to look for.")
        if not 1 <= top_k <= 50:
            raise InvalidInput(f"top_k must be between 1 and 50, got {top_k}.")
        opened = await self.open(source)
        return opened, rank_passages(opened.document, query, top_k)


def select_parts(spec: str, document: Document) -> list[int]:
    """The parts `spec` selects: page-like numbers, or for a recording a time range such as "00:30-02:00"."""
    timed = [
        (s.number, s.start_s, s.end_s) for s in document.sections if s.number is not None and s.start_s is not None and s.end_s is not None
    ]
    if ":" not in spec or not timed:
        return parse_pages(spec, document)
    numbers: set[int] = set()
    for part in filter(str.strip, spec.split(",")):
        match = _TIMES.match(part)
        if not match or not match.group(1):
            raise InvalidInput(f'Malformed time range {shown(part.strip())!r}: write it as "00:30-02:00" or "1:05:00-".')
        first = _seconds(match.group(1))
        last = _seconds(match.group(2)) if match.group(2) else (math.inf if part.strip().endswith("-") else first)
        if last < first:
            raise InvalidInput(f"Malformed time range {shown(part.strip())!r}: it goes from the earlier time to the later.")
        numbers.update(number for number, start, end in timed if end >= first and start <= last)
    if not numbers:
        span = f"{_clock(min(start for _, start, _ in timed))} to {_clock(max(end for _, _, end in timed))}"
        raise InvalidInput(f"Nothing is said in {shown(spec)!r}; the transcript runs from {span}.")
    return sorted(numbers)


def _seconds(text: str) -> float:
    value = 0.0
    for field in text.split(":"):
        value = value * 60 + float(field)
    return value


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes:02d}:{secs:02d}"


def parse_pages(spec: str, document: Document) -> list[int]:
    """`"3-5,9"` → [3, 4, 5, 9], checked against the document's pages, slides, sheets or chapters."""
    return parse_numbers(spec, len(document.sections), document.part_kind, document.format)


def parse_numbers(spec: str, count: int, kind: str, fmt: str) -> list[int]:
    """`"3-5,9"` → [3, 4, 5, 9], checked against `count` parts of `kind` ("page", "slide"…; "" if it has none)."""
    if not kind:
        raise InvalidInput(
            f"pages selects PDF pages, slides, sheets or chapters; this {fmt} document has no such parts. "
            "Leave pages out and use start_index/max_length instead."
        )
    numbers: list[int] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        match = _PAGES.match(part)
        if not match:
            raise InvalidInput(f'Malformed pages {shown(spec)!r}: use numbers and ranges like "3-5,9" (1-based).')
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else (count if part.strip().endswith("-") else first)
        if first < 1 or last < first:
            raise InvalidInput(f"Malformed range {shown(part.strip())!r} in pages: ranges go from low to high, starting at 1.")
        if first > count:
            raise InvalidInput(f"pages asks for {kind} {first}, but the document has {count} {kind}s.")
        numbers.extend(range(first, min(last, count) + 1))
    if not numbers:
        raise InvalidInput(f'pages {shown(spec)!r} selects nothing: use numbers and ranges like "3-5,9".')
    return sorted(set(numbers))
