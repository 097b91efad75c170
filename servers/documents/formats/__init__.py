"""Format readers as plug-ins: one module per family, each declaring the formats it reads.

A module exposes `FORMATS` and `convert(blob, options) -> Document`. Modules are
imported on first use (inside the conversion worker), so the server starts
without loading PyMuPDF, Office readers or Pillow. Adding a format touches one
module and one line of `_MODULES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from memento.servers.common.errors import UnsupportedFormat

from ..model import Document

__all__ = ["Blob", "ConvertOptions", "convert", "SUPPORTED"]

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
}
SUPPORTED = tuple(_MODULES)


@dataclass(frozen=True)
class Blob:
    data: bytes
    name: str  # file name or URL path, for titles and tie-breaking between text kinds
    format: str


@dataclass(frozen=True)
class ConvertOptions:
    max_rows: int = 1000
    ocr: bool = True
    tesseract_cmd: str = "tesseract"
    ocr_languages: str = "eng"
    zip_max_members: int = 10_000
    zip_max_bytes: int = 1024**3
    metadata_only: bool = False


class _Reader(Protocol):
    FORMATS: tuple[str, ...]

    def convert(self, blob: Blob, options: ConvertOptions) -> Document: ...


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
    reader: _Reader = importlib.import_module(f"{__name__}.{module_name}")
    return reader.convert(blob, options)
