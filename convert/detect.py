"""Tell a document's format from its bytes; the file name only breaks ties between text kinds.

A PDF named `.docx` is a PDF; a text file named `.pdf` is text. Zip containers
are told apart by the members they hold (Word, PowerPoint, Excel, EPUB), OLE2
files by their stream names (an Outlook .msg holds `__substg1.0_` streams).
E-mail, RSS/Atom feeds and Jupyter notebooks are told from their text.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import PurePosixPath

__all__ = ["detect_format", "EXTENSION_LANGUAGES"]

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Directory entries of an OLE2 file name their streams in UTF-16LE; every Outlook
# message has property streams and a property table at its root.
_MSG_STREAM = "__substg1.0_".encode("utf-16-le")
_MSG_PROPERTIES = "__properties_version1.0".encode("utf-16-le")
_MAIL_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "mime-version", "received", "return-path", "delivered-to")
_HEADER_LINE = re.compile(r"^[!-9;-~]+:")  # RFC 5322 field name: printable ASCII without the colon
_NOTEBOOK = re.compile(r'^\{\s*"(cells|nbformat|metadata|worksheets)"\s*:')

EXTENSION_LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".go": "go",
    ".rs": "rust",
    ".rb": "ruby",
    ".php": "php",
    ".sh": "bash",
    ".sql": "sql",
    ".r": "r",
    ".kt": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".toml": "toml",
    ".ini": "ini",
    ".css": "css",
    ".tex": "latex",
    ".lua": "lua",
}
_TEXT_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def detect_format(head: bytes, name: str = "", zip_names: list[str] | None = None, data: bytes | None = None) -> str:
    """The format of content starting with `head` (the first few KB), or "binary" if unknown.

    `zip_names` are the member names when the content is a zip archive; `data`,
    the whole content, tells an Outlook message from other OLE2 files.
    """
    suffix = PurePosixPath(name.lower()).suffix
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(zip_names or [])
    if head.startswith(_OLE):
        return _ole_kind(data, suffix)
    for magic, _kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    media = _media_kind(head, suffix)
    if media:
        return media
    if suffix == ".eml" and _is_mail(head.decode("utf-8", errors="replace"), suffix):
        return "eml"  # a mail with a stray control byte in a header is still a mail
    if not _looks_like_text(head):
        return "binary"
    return _text_kind(head, suffix)


def _ole_kind(data: bytes | None, suffix: str) -> str:
    if data is None:  # a caller without the whole content: the name is all there is
        return "msg" if suffix == ".msg" else "ole" if suffix in (".doc", ".ppt") else "xls"
    if _MSG_STREAM in data and _MSG_PROPERTIES in data:
        return "msg"
    return "ole" if suffix in (".doc", ".ppt", ".msg") else "xls"


_AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".weba")
_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")


def _media_kind(head: bytes, suffix: str) -> str:
    """The media kind, "audio" or "video", from a container's signature ("" if none); the media reader checks the streams."""
    if not head:  # an empty file named as a recording gets the media reader's "empty" error, not an empty text
        return "audio" if suffix in _AUDIO_SUFFIXES else "video" if suffix in _VIDEO_SUFFIXES else ""
    if (head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head.startswith((b"fLaC", b"ID3")):
        return "audio"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(b"OggS"):
        return "video" if b"\x80theora" in head[:512] else "audio"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return "audio" if suffix in _AUDIO_SUFFIXES else "video"
    if head[4:8] == b"ftyp":  # ISO media: the brand tells sound-only files
        return "audio" if head[8:12] in (b"M4A ", b"M4B ", b"M4P ") else "video"
    if len(head) > 3 and head[0] == 0xFF and 0xE0 <= head[1] < 0xFE and head[2] & 0xF0 != 0xF0:
        # an MPEG audio frame (an MP3 without tags) or ADTS AAC; FF FE is UTF-16 text's mark
        return "audio" if head[1] & 0x06 or head[1] & 0xF6 == 0xF0 else ""
    return ""


def _zip_kind(names: list[str]) -> str:
    members = set(names)
    if "mimetype" in members and any(n.endswith(".opf") for n in names):
        return "epub"
    if "[Content_Types].xml" in members:
        if any(n.startswith("word/") for n in names):
            return "docx"
        if any(n.startswith("ppt/") for n in names):
            return "pptx"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
    return "zip"


def zip_member_names(data: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return True
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls / len(head) < 0.05


def _text_kind(head: bytes, suffix: str) -> str:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    lower = text[:512].lower()
    if _is_mail(text, suffix):
        return "eml"
    if text.startswith("<") and _is_feed(text):
        return "feed"
    if lower.startswith("<?xml"):
        return "html" if "<html" in lower else "xml"
    if lower.startswith(("<!doctype html", "<html")) or ("<html" in lower and "<body" in text.lower()):
        return "html"
    if text.startswith("{") and (suffix == ".ipynb" or _NOTEBOOK.match(text)):
        return "notebook"
    if text.startswith(("{", "[")):
        if suffix in (".jsonl", ".ndjson") or _is_jsonl(text):
            return "jsonl"
        return "json"
    if text.startswith("<") and suffix in (".xml", ".svg", ".rss", ".atom", ".xhtml", ".htm", ".html"):
        return "html" if suffix in (".htm", ".html", ".xhtml") else "xml"
    if suffix in _TEXT_EXTENSIONS:
        return _TEXT_EXTENSIONS[suffix]
    if suffix in EXTENSION_LANGUAGES:
        return "code"
    return "text"


def _is_mail(text: str, suffix: str) -> bool:
    """A header block of mail fields, ended by a blank line (or the end of the head), opens the text."""
    lines = text.splitlines()
    if lines and lines[0].startswith("From ") and suffix in (".eml", ".mbox"):  # an mbox "From " separator
        lines = lines[1:]
    if suffix in _TEXT_EXTENSIONS or suffix in EXTENSION_LANGUAGES:  # a YAML file with a `from:` key is YAML
        return False
    names: list[str] = []
    for number, line in enumerate(lines[:200]):
        if not line.strip():
            break
        if line[0] in " \t":  # a folded continuation of the previous field
            if not names:
                return False
            continue
        if not _HEADER_LINE.match(line):
            if number == len(lines) - 1:  # the head may end inside a field
                break
            return False
        names.append(line.split(":", 1)[0].lower())
    known = {n for n in names if n in _MAIL_HEADERS}
    if suffix == ".eml":
        return bool(known)
    return "from" in known and len(known) >= 3


_XML_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(r"\s*<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def _is_feed(text: str) -> bool:
    """The root element is an RSS `<rss>`, an RSS 1.0 `<rdf:RDF>` or an Atom `<feed>`."""
    position = 0
    while match := _XML_PROLOG.match(text, position):
        if match.end() == position:
            break
        position = match.end()
    root = _ROOT.match(text, position)
    if not root:
        return False
    local = root.group(2)
    window = text[position : position + 2048]
    if local == "rss":
        return True
    if local == "RDF":
        return "purl.org/rss/1.0" in window
    if local == "feed":
        return "www.w3.org/2005/Atom" in window or "purl.org/atom" in window
    return False


def _is_jsonl(text: str) -> bool:
    lines = [line for line in text.splitlines()[:5] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        for line in lines[:-1]:  # the last line of a head may be cut
            json.loads(line)
    except ValueError:
        return False
    return True
