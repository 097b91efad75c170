"""Plain text, Markdown and source code, decoded whatever their encoding."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..charsets import decode_body
from ..detect import EXTENSION_LANGUAGES
from ..model import Document, Section
from .base import Blob, ConvertOptions

FORMATS = ("text", "markdown", "code")


def convert(blob: Blob, options: ConvertOptions) -> Document:
    text, encoding = decode_body(blob.data)
    text = text.replace("\r\n", "\n")
    metadata = {"encoding": encoding, "lines": text.count("\n") + (0 if text.endswith("\n") else 1), "characters": len(text)}
    if blob.format == "code":
        language = EXTENSION_LANGUAGES.get(PurePosixPath(blob.name.lower()).suffix, "")
        metadata["language"] = language
        text = f"```{language}\n{text.rstrip()}\n```"
    return Document(blob.format, [] if options.metadata_only else [Section(text)], metadata)
