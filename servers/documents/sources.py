"""Turn a `source` string into bytes: a path under the allowed roots, a file: or data: URI,
or an http(s) URL. A zip member (`archive.zip!inner/path.pdf`) is split off here
but expanded in the conversion worker (`formats.convert_member`), never in the server.

Everything that could read too much is bounded before it is read: file sizes
are checked with fstat, downloads stop at the limit. Paths are resolved
(symlinks followed, `..` collapsed) before they are checked against the roots.
Only regular files are opened, without blocking (a named pipe would otherwise
wait for a writer), and local reads run on a worker thread, off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import anyio.to_thread

from memento.servers.common.errors import AccessDenied, InvalidInput, NotFound, TooLarge, shown

from .settings import DocumentsSettings

__all__ = ["Loaded", "load_source", "read_local", "split_member"]

_MEMBER = re.compile(r"(?<=\.(?:zip|eml|msg))!", re.IGNORECASE)  # archive.zip!member, mail.eml!attachment
_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class Loaded:
    data: bytes
    name: str  # file name (or URL path) used for display and to break ties between text kinds
    origin: str  # where it came from, for messages: a path, a URL, "data: URI"
    content_type: str = ""


def split_member(source: str) -> tuple[str, list[str]]:
    """`a.zip!b.zip!c.pdf` → ("a.zip", ["b.zip", "c.pdf"]); `mail.msg!report.pdf` names an attachment."""
    parts = _MEMBER.split(source)
    return parts[0], [p.lstrip("/") for p in parts[1:]]


async def load_source(source: str, settings: DocumentsSettings) -> Loaded:
    """The bytes of `source` (with no `!member` part: the caller splits that off with `split_member`)."""
    source = source.strip()
    if not source:
        raise InvalidInput("source is empty: pass a file path, a file:/data: URI or an http(s) URL.")
    scheme = urlsplit(source).scheme.lower() if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", source) else ""
    if scheme in ("http", "https"):
        from memento.servers.common.http import download  # httpx and its stack: only when a URL is read

        fetched = await download(source, settings, max_bytes=int(settings.documents_max_bytes))
        name = unquote(urlsplit(fetched.url).path.rsplit("/", 1)[-1]) or urlsplit(fetched.url).hostname or "download"
        return Loaded(fetched.content, name, fetched.url, fetched.content_type)
    if scheme == "data":
        return _data_uri(source, int(settings.documents_max_bytes))
    if scheme == "file":
        parts = urlsplit(source)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"file: URIs must name a local file (file:///path), not host {shown(parts.netloc)!r}.")
        return await _load_local(unquote(parts.path), settings)
    if len(scheme) > 1:  # one letter is a Windows drive, anything longer an unknown scheme
        raise InvalidInput(f"Unsupported source scheme {shown(scheme)!r}: use a file path, file:, data:, http: or https:.")
    return await _load_local(source, settings)


def resolve_local(raw: str, roots: list[Path]) -> Path:
    """The real path of `raw` if it lies under one of `roots`, after following symlinks; a relative `raw` is
    looked for in each root in turn."""
    candidate = Path(os.path.expanduser(raw))
    if not candidate.is_absolute():
        # Relative to the first root that holds it (attachments come first, then e.g. the working folder).
        candidate = next((root / candidate for root in roots if _exists(root / candidate)), roots[0] / candidate)
    try:
        real = Path(os.path.realpath(candidate))
        inside = any(real == root or real.is_relative_to(root) for root in roots)
        exists = inside and real.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte…
        raise InvalidInput(f"{shown(raw)} is not a usable path ({exc.__class__.__name__}).") from exc
    if not inside:
        allowed = ", ".join(str(r) for r in roots)
        raise AccessDenied(
            f"{shown(raw)} is outside the folders this server may read ({allowed}). "
            "Pass a path inside them, or set MEMENTO_DOCUMENTS_ROOTS to include its folder."
        )
    if not exists:
        raise NotFound(f"No such file: {shown(raw)} (looked for {shown(str(real))}).")
    if real.is_dir():
        raise InvalidInput(f"{shown(raw)} is a folder, not a file. Pass the path of one file inside it.")
    return real


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte: resolve_local says so below
        return False


async def _load_local(raw: str, settings: DocumentsSettings) -> Loaded:
    path = resolve_local(raw, settings.documents_roots)
    # A slow disk or network share must not stall every other call: read on a thread.
    data = await anyio.to_thread.run_sync(read_local, path, raw, int(settings.documents_max_bytes))
    return Loaded(data, path.name, str(path))


def read_local(path: Path, raw: str, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit`; anything else is refused without waiting on it.

    The file is opened non-blocking and checked on the open descriptor, so a
    path swapped for a pipe or a device after it was resolved is refused too.
    """
    name = shown(raw)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(name, mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except PermissionError as exc:
        raise AccessDenied(f"{name} exists but this server has no permission to read it.") from exc
    except FileNotFoundError as exc:
        raise NotFound(f"No such file: {name}.") from exc
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise _not_regular(name, status.st_mode)
        if status.st_size > limit:
            raise TooLarge(
                f"{name} is {status.st_size:,} bytes, over the {limit:,}-byte limit (MEMENTO_DOCUMENTS_MAX_BYTES); it was not read."
            )
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while we looked
        raise TooLarge(f"{name} is over the {limit:,}-byte limit; it was not read.")
    return data


def _not_regular(name: str, mode: int) -> InvalidInput:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
    return InvalidInput(f"{name} is not a regular file (it is {kind}); only regular files can be read. Pass the path of a document.")


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
