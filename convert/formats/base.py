"""The types every format reader shares: the bytes to read, the options, a converted archive member.

A leaf: format modules import it, and it imports no format module, so the
dispatch in `formats/__init__.py` can import the readers without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..model import Document

__all__ = ["Blob", "ConvertOptions", "Extracted", "Reader"]


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
    member_max_bytes: int = 200 * 1024**2  # largest archive member expanded
    metadata_only: bool = False
    image_max_px: int = 1568  # longest side of a picture a document carries for a model's eyes
    transcribe_model: str = ""  # "" (the packaged Whisper tiny.en), a model folder, or "openai:NAME"
    transcribe_base_url: str = ""
    transcribe_api_key: str = field(default="", repr=False)
    transcript_dir: str = ""  # where transcripts are kept by content hash ("": not kept)
    media_max_duration_s: float = 7200.0
    keyframes: int = 8  # most keyframes taken from a video


@dataclass(frozen=True)
class Extracted:
    """A converted archive member, with what the server says about it (it never holds the bytes)."""

    document: Document
    name: str  # the member's file name
    size_bytes: int  # its expanded size


class Reader(Protocol):
    """A format module: the formats it reads and how."""

    FORMATS: tuple[str, ...]

    def convert(self, blob: Blob, options: ConvertOptions) -> Document: ...
