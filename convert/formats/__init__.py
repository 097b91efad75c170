"""Format readers as plug-ins: one module per family, each declaring the formats it reads.

A module exposes `FORMATS` and `convert(blob, options) -> Document`. Modules are
imported on first use (inside the conversion worker), so the server starts
without loading PyMuPDF, Office readers or Pillow. Adding a format touches one
module and one line of `_MODULES`.

`convert_member` is the worker's entry for `archive.zip!member` (and for a mail's
attachment, `mail.eml!report.pdf`): the member is expanded and converted in the
worker, so its bytes never reach the server.
"""

from __future__ import annotations

import importlib

from memento.core.errors import UnsupportedFormat

from ..model import Document
from .base import Blob, ConvertOptions, Extracted, Reader

__all__ = ["Blob", "ConvertOptions", "Extracted", "convert", "convert_member", "SUPPORTED"]

_MODULES = {
    "pdf": "pdf",
    "docx": "office",
    "pptx": "office",
    "xlsx": "sheets",
    "xls": "sheets",
    "csv": "sheets",
    "tsv": "sheets",
    "html": "markup",
    "xml": "markup",
    "json": "markup",
    "jsonl": "markup",
    "yaml": "markup",
    "text": "text",
    "markdown": "text",
    "code": "text",
    "image": "images",
    "zip": "archives",
    "epub": "epub",
    "audio": "media",
    "video": "media",
    "eml": "mail",
    "msg": "mail",
    "feed": "feeds",
    "notebook": "notebooks",
}
SUPPORTED = tuple(_MODULES)


def convert(blob: Blob, options: ConvertOptions) -> Document:
    if blob.format == "ole":
        raise UnsupportedFormat(
            "This is a legacy binary Word/PowerPoint file (.doc/.ppt), which is not supported; save it as .docx/.pptx or PDF and read that."
        )
    module_name = _MODULES.get(blob.format)
    if module_name is None:
        raise UnsupportedFormat(
            f"Unrecognised content in {blob.name or 'the source'} (first bytes {blob.data[:8]!r}). "
            f"Readable formats: {', '.join(sorted(set(SUPPORTED)))}."
        )
    reader: Reader = importlib.import_module(f"{__name__}.{module_name}")
    return reader.convert(blob, options)


def convert_member(blob: Blob, members: tuple[str, ...], options: ConvertOptions) -> Extracted:
    """Expand `blob`'s member path (`members[0]` of the archive, `members[1]` of that member…) and convert it.

    A container is a zip archive (any zip-based format) or an e-mail (.eml, .msg), whose members are its attachments.
    """
    from ..detect import detect_format, zip_member_names
    from . import archives, mail

    data, name, fmt = blob.data, blob.name, blob.format
    for member in members:
        if fmt in mail.FORMATS:
            data, name = mail.read_attachment(data, name, member, options, fmt)
        else:  # a zip, or a mislabelled file the zip reader refuses with its own reason
            data = archives.read_member(data, name, member, options)
            name = member.rsplit("/", 1)[-1]
        head = data[:8192]
        fmt = detect_format(head, name, zip_member_names(data) if head.startswith(b"PK") else None, data=data)
    return Extracted(convert(Blob(data, name, fmt), options), name, len(data))
