"""Turn a `source` string into bytes: a path under the allowed roots, a file: or data: URI,
an http(s) URL, or a member of a zip archive (`archive.zip!inner/path.pdf`).

Everything that could read too much is bounded before it is read: file sizes
are checked with stat, downloads stop at the limit, archive members are read
in chunks up to the limit. Paths are resolved (symlinks followed, `..`
collapsed) before they are checked against the roots.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from memento.servers.common.errors import AccessDenied, InvalidInput, NotFound, TooLarge
from memento.servers.common.http import download

from .formats import ConvertOptions
from .formats.archives import open_archive
from .settings import DocumentsSettings

__all__ = ["Loaded", "load_source"]

_MEMBER = re.compile(r"(?<=\.zip)!", re.IGNORECASE)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Loaded:
    data: bytes
    name: str  # file name (or URL path) used for display and to break ties between text kinds
    origin: str  # where it came from, for messages: a path, a URL, "data: URI"
    content_type: str = ""


def split_member(source: str) -> tuple[str, list[str]]:
    """`a.zip!b.zip!c.pdf` → ("a.zip", ["b.zip", "c.pdf"])."""
    parts = _MEMBER.split(source)
    return parts[0], [p.lstrip("/") for p in parts[1:]]


async def load_source(source: str, settings: DocumentsSettings, options: ConvertOptions) -> Loaded:
    source = source.strip()
    if not source:
        raise InvalidInput("source is empty: pass a file path, a file:/data: URI or an http(s) URL.")
    outer, members = split_member(source)
    loaded = await _load_outer(outer, settings)
    for member in members:
        loaded = read_member(loaded, member, settings, options)
    return loaded


async def _load_outer(source: str, settings: DocumentsSettings) -> Loaded:
    scheme = urlsplit(source).scheme.lower() if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", source) else ""
    if scheme in ("http", "https"):
        fetched = await download(
            source,
            policy=settings.url_policy(),
            max_bytes=int(settings.documents_max_bytes),
            timeout_s=settings.http_timeout_s,
            user_agent=settings.user_agent,
        )
        name = unquote(urlsplit(fetched.url).path.rsplit("/", 1)[-1]) or urlsplit(fetched.url).hostname or "download"
        return Loaded(fetched.content, name, fetched.url, fetched.content_type)
    if scheme == "data":
        return _data_uri(source, int(settings.documents_max_bytes))
    if scheme == "file":
        parts = urlsplit(source)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"file: URIs must name a local file (file:///path), not host {parts.netloc!r}.")
        return _read_local(unquote(parts.path), settings)
    if len(scheme) > 1:  # one letter is a Windows drive, anything longer an unknown scheme
        raise InvalidInput(f"Unsupported source scheme {scheme!r}: use a file path, file:, data:, http: or https:.")
    return _read_local(source, settings)


def resolve_local(raw: str, roots: list[Path]) -> Path:
    """The real path of `raw` if it lies under one of `roots`, after following symlinks."""
    candidate = Path(os.path.expanduser(raw))
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    real = Path(os.path.realpath(candidate))
    if not any(real == root or real.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise AccessDenied(
            f"{raw} is outside the folders this server may read ({allowed}). "
            "Pass a path inside them, or set MEMENTO_DOCUMENTS_ROOTS to include its folder."
        )
    if not real.exists():
        raise NotFound(f"No such file: {raw} (looked for {real}).")
    if real.is_dir():
        raise InvalidInput(f"{raw} is a folder, not a file. Pass the path of one file inside it.")
    return real


def _read_local(raw: str, settings: DocumentsSettings) -> Loaded:
    path = resolve_local(raw, settings.documents_roots)
    limit = int(settings.documents_max_bytes)
    size = path.stat().st_size
    if size > limit:
        raise TooLarge(f"{raw} is {size:,} bytes, over the {limit:,}-byte limit (MEMENTO_DOCUMENTS_MAX_BYTES); it was not read.")
    if not os.access(path, os.R_OK):
        raise AccessDenied(f"{raw} exists but this server has no permission to read it.")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while we looked
        raise TooLarge(f"{raw} is over the {limit:,}-byte limit; it was not read.")
    return Loaded(data, path.name, str(path))


def _data_uri(source: str, limit: int) -> Loaded:
    header, sep, payload = source[5:].partition(",")
    if not sep:
        raise InvalidInput("Malformed data: URI: it needs a comma before the data (data:[type][;base64],DATA).")
    if len(payload) > limit * 4 // 3 + 4:
        raise TooLarge(f"The data: URI is over the {limit:,}-byte limit.")
    content_type = header.split(";")[0] or "text/plain"
    if header.endswith(";base64"):
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(f"Malformed base64 in data: URI ({exc}).") from exc
    else:
        data = unquote_to_bytes(payload)
    extension = {"application/pdf": ".pdf", "text/csv": ".csv", "application/json": ".json"}.get(content_type, "")
    return Loaded(data, f"data{extension}", "data: URI", content_type)


def read_member(archive_source: Loaded, member: str, settings: DocumentsSettings, options: ConvertOptions) -> Loaded:
    """Read one member of a zip archive, never more than the size limits allow."""
    limit = min(int(settings.documents_max_bytes), int(settings.documents_zip_max_bytes))
    with open_archive(archive_source.data, options, archive_source.name) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            close = [n for n in names if n.lower().endswith(member.lower().rsplit("/", 1)[-1])][:5]
            hint = f" Did you mean: {', '.join(close)}?" if close else f" It holds {len(names)} files; read the archive to list them."
            raise NotFound(f"{archive_source.name} has no member {member!r}.{hint}") from None
        if info.is_dir():
            raise InvalidInput(f"{member!r} is a folder inside {archive_source.name}; name a file.")
        if info.flag_bits & 0x1:
            raise AccessDenied(f"{member!r} in {archive_source.name} is password-protected and cannot be read.")
        if info.file_size > limit:
            raise TooLarge(f"{member!r} expands to {info.file_size:,} bytes, over the {limit:,}-byte limit.")
        chunks = []
        size = 0
        with archive.open(info) as handle:  # sizes in the header can lie: count what really comes out
            while chunk := handle.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"{member!r} expands past the {limit:,}-byte limit; it looks like a zip bomb.")
                chunks.append(chunk)
    return Loaded(b"".join(chunks), member.rsplit("/", 1)[-1], f"{archive_source.origin}!{member}")
