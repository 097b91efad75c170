"""Zip archives: a listing of members, with guards against zip bombs.

Reading one member is `archive.zip!inner/path`; the extraction lives in
`memento.servers.documents.sources`, which applies the same limits while it reads.
"""

from __future__ import annotations

import io
import zipfile

from memento.servers.common.errors import ConversionFailed, TooLarge

from ..model import Document, Section
from . import Blob, ConvertOptions
from .tables import markdown_table

FORMATS = ("zip",)


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
