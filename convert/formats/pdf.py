"""PDF through PyMuPDF: one section per page, metadata, encryption detected before reading."""

from __future__ import annotations

from memento.core.errors import ConversionFailed

from ..model import Document, Section
from .base import Blob, ConvertOptions

FORMATS = ("pdf",)


def convert(blob: Blob, options: ConvertOptions) -> Document:
    import pymupdf

    try:
        pdf = pymupdf.open(stream=blob.data, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises its own FileDataError and friends
        raise ConversionFailed(f"This PDF is damaged and could not be opened ({exc}).") from exc
    with pdf:
        meta = {k: v for k, v in (pdf.metadata or {}).items() if v and k not in ("format", "encryption")}
        metadata = {
            "pages": pdf.page_count,
            "encrypted": bool(pdf.needs_pass or pdf.is_encrypted),
            "pdf_version": (pdf.metadata or {}).get("format", ""),
            **{_KEYS.get(k, k): v for k, v in meta.items()},
        }
        if options.metadata_only:
            return Document("pdf", [], metadata)
        if pdf.needs_pass:
            raise ConversionFailed("This PDF is encrypted with a password, so its text cannot be read. Ask for an unencrypted copy.")
        sections: list[Section] = []
        empty = []
        try:
            for index, page in enumerate(pdf.pages(), start=1):
                text = page.get_text("text", sort=False).strip()
                if not text:
                    empty.append(index)
                sections.append(Section(text, "page", index))
        except Exception as exc:
            raise ConversionFailed(f"PDF page {len(sections) + 1} could not be read ({exc}).") from exc
    notes = []
    if empty:
        shown = _ranges(empty)
        notes.append(f"page(s) {shown} have no text layer (scanned images?); their text cannot be extracted without OCR.")
    return Document("pdf", sections, metadata, notes)


_KEYS = {"creationDate": "created", "modDate": "modified"}


def _ranges(numbers: list[int]) -> str:
    spans: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(f"{start}" if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ",".join(spans)
