"""list_files, read_file and write_file over a session's workspace and the read-only attachments.

Paths are as the code sees them: relative to /workspace, or absolute under
/workspace or /inputs. Resolution and opening are in `workspace.Root`, which
never follows a link out. Text is paginated; images come back as images; other
binary files are described by size and type.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from memento.servers.common.errors import AccessDenied, InvalidInput, TooLarge
from memento.servers.common.paging import Page, paginate

from .workspace import Entry, Root, list_entries, usage

__all__ = ["FileText", "roots_for", "pick", "read", "write", "listing"]

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PAR1", "application/vnd.apache.parquet"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"\x93NUMPY", "application/x-npy"),
    (b"\x7fELF", "application/x-executable"),
)
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def roots_for(workspace: Path, inputs: Path | None) -> list[Root]:
    roots = [Root("/workspace", workspace, writable=True)]
    if inputs is not None:
        roots.append(Root("/inputs", inputs, writable=False))
    return roots


def pick(roots: list[Root], path: str) -> tuple[Root, list[str]]:
    """The root a path belongs to and its resolved components."""
    path = path.strip() or "."
    if path.startswith("/"):
        for root in roots:
            if path == root.shown or path.startswith(root.shown + "/"):
                return root, root.locate(path)
        places = " and ".join(r.shown for r in roots)
        raise AccessDenied(f"{path!r} is outside {places}; the file tools only reach those folders.")
    return roots[0], roots[0].locate(path)


@dataclass
class FileText:
    path: str
    size: int
    media_type: str
    page: Page | None = None  # text files
    image: bytes | None = None  # images
    encoding: str | None = None


def _media_type(name: str, head: bytes) -> str:
    for signature, media in _SIGNATURES:
        if head.startswith(signature):
            return media
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def read(roots: list[Root], path: str, start_index: int, max_length: int, max_bytes: int) -> FileText:
    root, parts = pick(roots, path)
    shown = root.shown_path(parts)
    fd = root.open(parts, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO planted by the code must not hang us
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"{shown} is a folder; list_files lists it.")
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{shown} is not a regular file.")
        if info.st_size > max_bytes:
            raise TooLarge(
                f"{shown} is {info.st_size:,} bytes; read_file reads files up to {max_bytes:,} bytes "
                "(MEMENTO_CODE_READ_MAX). Read a part with run_shell (head, sed -n '100,200p', grep) or with Python."
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    media = _media_type(parts[-1] if parts else "", data[:16])
    result = FileText(path=shown, size=len(data), media_type=media)
    if media in IMAGE_TYPES:
        result.image = data
        return result
    text, result.encoding = _decode(data)
    if text is None:
        return result
    result.page = paginate(text, start_index, max_length)
    return result


def _decode(data: bytes) -> tuple[str | None, str | None]:
    if b"\x00" in data[:8192]:
        return None, None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Text in an 8-bit encoding: cp1252 covers most Western files; latin-1 decodes anything left.
    for encoding in ("cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None, None


def write(
    roots: list[Root], path: str, content: str, append: bool, max_file: int, max_workspace: int, owner: int | None
) -> tuple[str, int]:
    """Write text to a workspace file; return its shown path and new size."""
    root, parts = pick(roots, path)
    if not root.writable:
        raise AccessDenied(f"{root.shown} is read-only; write to /workspace instead.")
    if not parts:
        raise InvalidInput("Give a file name, e.g. path='notes.txt'.")
    data = content.encode("utf-8")
    shown = root.shown_path(parts)
    try:
        existing = os.lstat(root.host.joinpath(*parts)).st_size
    except OSError:
        existing = 0
    new_size = existing + len(data) if append else len(data)
    if new_size > max_file:
        raise TooLarge(f"{shown} would be {new_size:,} bytes, over the {max_file:,}-byte file limit (MEMENTO_CODE_MAX_FILE_SIZE).")
    used = usage(root.host, 10**7).bytes  # on disk, every entry counted
    if used - existing + new_size > max_workspace:
        raise TooLarge(
            f"The workspace would grow to {used - existing + new_size:,} bytes, over its {max_workspace:,}-byte limit "
            "(MEMENTO_CODE_WORKSPACE_SIZE). Delete files first (run_shell with rm)."
        )
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | (os.O_APPEND if append else os.O_TRUNC)
    fd = root.open(parts, flags, make_parents=True, owner=owner)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInput(f"{shown} is not a regular file.")
        if owner is not None:
            os.fchown(fd, owner, owner)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    return shown, size


def listing(roots: list[Root], path: str, recursive: bool, limit: int) -> tuple[str, list[Entry], bool]:
    root, parts = pick(roots, path)
    shown = root.shown_path(parts)
    folder = root.open(parts, os.O_RDONLY | os.O_DIRECTORY)  # reached without following any link
    entries, cut = list_entries(folder, recursive, limit)
    return shown, entries, cut
