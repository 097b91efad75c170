"""Zip archives: a listing of members, and one member's bytes, with guards against zip bombs.

Reading one member is `archive.zip!inner/path`: `read_member` expands it here,
inside the conversion worker (whose memory is capped), counting what really
comes out rather than trusting the sizes in the header.
"""

from __future__ import annotations

import io
import zipfile

from memento.core.errors import AccessDenied, ConversionFailed, InvalidInput, NotFound, TooLarge
from memento.core.quoting import shown

from ..model import Document, Section
from .base import Blob, ConvertOptions
from .tables import markdown_table

FORMATS = ("zip",)
_CHUNK = 1024 * 1024


def open_archive(data: bytes, options: ConvertOptions, name: str = "archive") -> zipfile.ZipFile:
    """Open a zip and refuse it when its declared member count or total size is over the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConversionFailed(f"{name} is not a readable zip archive ({exc}).") from exc
    members = archive.infolist()
    if len(members) > options.zip_max_members:
        raise TooLarge(
            f"{name} holds {len(members):,} members, over the limit of {options.zip_max_members:,} (MEMENTO_DOCUMENTS_ZIP_MAX_MEMBERS)."
        )
    total = sum(m.file_size for m in members)
    if total > options.zip_max_bytes:
        raise TooLarge(
            f"{name} would expand to {total:,} bytes, over the limit of {options.zip_max_bytes:,} "
            "(MEMENTO_DOCUMENTS_ZIP_MAX_BYTES); it looks like a zip bomb."
        )
    return archive


def convert(blob: Blob, options: ConvertOptions) -> Document:
    archive = open_archive(blob.data, options, blob.name or "the archive")
    members = [m for m in archive.infolist() if not m.is_dir()]
    metadata = {
        "members": len(members),
        "uncompressed_bytes": sum(m.file_size for m in members),
        "compressed_bytes": sum(m.compress_size for m in members),
        "encrypted_members": sum(1 for m in members if m.flag_bits & 0x1),
    }
    if options.metadata_only:
        return Document("zip", [], metadata)
    rows = [["member", "size (bytes)", "modified"]]
    rows += [[m.filename, f"{m.file_size:,}", "{:04d}-{:02d}-{:02d} {:02d}:{:02d}".format(*m.date_time[:5])] for m in members]
    hint = f'Zip archive with {len(members)} member(s). Read one with `read_document("{blob.name or "archive.zip"}!<member path>")`.\n\n'
    return Document("zip", [Section(hint + markdown_table(rows, options.max_rows))], metadata)


def read_member(data: bytes, archive_name: str, member: str, options: ConvertOptions) -> bytes:
    """The bytes of `member` of the zip `data`, never more than `options.member_max_bytes`."""
    limit = options.member_max_bytes
    quoted = repr(shown(member))
    with open_archive(data, options, archive_name) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            close = [n for n in names if n.lower().endswith(member.lower().rsplit("/", 1)[-1])][:5]
            hint = f" Did you mean: {', '.join(close)}?" if close else f" It holds {len(names)} files; read the archive to list them."
            raise NotFound(f"{archive_name} has no member {quoted}.{hint}") from None
        if info.is_dir():
            raise InvalidInput(f"{quoted} is a folder inside {archive_name}; name a file.")
        if info.flag_bits & 0x1:
            raise AccessDenied(f"{quoted} in {archive_name} is password-protected and cannot be read.")
        if info.file_size > limit:
            raise TooLarge(f"{quoted} expands to {info.file_size:,} bytes, over the {limit:,}-byte limit.")
        out = io.BytesIO()
        with archive.open(info) as handle:  # sizes in the header can lie: count what really comes out
            while chunk := handle.read(_CHUNK):
                if out.tell() + len(chunk) > limit:
                    raise TooLarge(f"{quoted} expands past the {limit:,}-byte limit; it looks like a zip bomb.")
                out.write(chunk)
    return out.getvalue()
