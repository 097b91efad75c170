"""Plain text, Markdown and source code, decoded whatever their encoding."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..detect import EXTENSION_LANGUAGES
from ..model import Document, Section
from . import Blob, ConvertOptions

FORMATS = ("text", "markdown", "code")

_BOMS = (("utf-8-sig", b"\xef\xbb\xbf"), ("utf-16", b"\xff\xfe"), ("utf-16", b"\xfe\xff"))


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 when it is, else the encoding charset-normalizer finds most likely."""
    for encoding, bom in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[:200_000]))
    encoding = matches[0].encoding if matches else "cp1252"
    # Short texts fit many single-byte code pages about equally well; Windows-1252 is by far the
    # most common of them, so it wins unless another fits clearly better.
    if matches and any(m.encoding == "cp1252" and m.chaos <= matches[0].chaos + 0.1 for m in matches):
        encoding = "cp1252"
    return data.decode(encoding, errors="replace"), encoding


def convert(blob: Blob, options: ConvertOptions) -> Document:
    text, encoding = decode_text(blob.data)
    text = text.replace("\r\n", "\n")
    metadata = {"encoding": encoding, "lines": text.count("\n") + (0 if text.endswith("\n") else 1), "characters": len(text)}
    if blob.format == "code":
        language = EXTENSION_LANGUAGES.get(PurePosixPath(blob.name.lower()).suffix, "")
        metadata["language"] = language
        text = f"```{language}\n{text.rstrip()}\n```"
    return Document(blob.format, [] if options.metadata_only else [Section(text)], metadata)
