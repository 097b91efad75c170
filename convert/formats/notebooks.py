"""Jupyter notebooks (.ipynb, nbformat 3 and 4) read as plain JSON: one section per cell.

Markdown cells stay Markdown; code cells are fenced with the kernel's language;
text outputs follow in `output` fences; images in outputs travel as pictures
(MCP image content), each with its marker in the text. Nothing is executed.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from typing import Any

from memento.core.errors import ConversionFailed

from ..model import Document, Picture, Section
from .base import Blob, ConvertOptions

FORMATS = ("notebook",)

_MAX_OUTPUT = 20_000  # characters of one output shown; the cut is stated
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def convert(blob: Blob, options: ConvertOptions) -> Document:
    try:
        notebook = json.loads(blob.data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionFailed(f"{blob.name or 'This notebook'} is not valid notebook JSON ({exc}).") from exc
    if not isinstance(notebook, dict):
        raise ConversionFailed(f"{blob.name or 'This notebook'} is JSON but not a notebook (no cells).")
    cells = notebook.get("cells")
    if cells is None and isinstance(notebook.get("worksheets"), list):  # nbformat 3
        cells = [cell for sheet in notebook["worksheets"] if isinstance(sheet, dict) for cell in sheet.get("cells") or []]
    if not isinstance(cells, list):
        raise ConversionFailed(f"{blob.name or 'This notebook'} is JSON but not a notebook (no cells).")
    found_meta = notebook.get("metadata")
    meta: dict[str, Any] = found_meta if isinstance(found_meta, dict) else {}
    language = _language(meta)
    counts = {"markdown": 0, "code": 0, "raw": 0}
    for cell in cells:
        kind = cell.get("cell_type") if isinstance(cell, dict) else None
        if kind in counts:
            counts[kind] += 1
    metadata: dict[str, Any] = {
        "cells": len(cells),
        "code_cells": counts["code"],
        "markdown_cells": counts["markdown"],
        "language": language,
        "nbformat": f"{notebook.get('nbformat', '?')}.{notebook.get('nbformat_minor', '?')}",
    }
    kernel = meta.get("kernelspec")
    if isinstance(kernel, dict) and kernel.get("display_name"):
        metadata["kernel"] = str(kernel["display_name"])
    if options.metadata_only:
        return Document("notebook", [], metadata)
    pictures = _Pictures(options.image_max_px)
    sections = [_cell(number, cell, language, pictures) for number, cell in enumerate(cells, start=1)]
    return Document("notebook", sections, metadata, pictures.notes)


def _language(meta: dict[str, Any]) -> str:
    for key in ("kernelspec", "language_info"):
        value = meta.get(key)
        if isinstance(value, dict):
            name = value.get("language") or value.get("name")
            if isinstance(name, str) and name:
                return name.lower()
    return "python"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def _fence(info: str, text: str) -> str:
    fence = "```"
    while fence in text:  # a fence longer than any run of backticks inside
        fence += "`"
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _cut(text: str) -> str:
    text = _ANSI.sub("", text)
    if len(text) <= _MAX_OUTPUT:
        return text
    return text[:_MAX_OUTPUT] + f"\n[… {len(text) - _MAX_OUTPUT:,} more characters of this output not shown]"


class _Pictures:
    """Encodes output images for a model's eyes, numbering them across the notebook."""

    def __init__(self, max_px: int) -> None:
        self.max_px = max_px
        self.count = 0
        self.notes: list[str] = []

    def take(self, encoded: Any, mime: str, where: str) -> Picture | None:
        from PIL import Image, UnidentifiedImageError

        from .pictures import encode_picture

        try:
            raw = base64.b64decode(_text(encoded), validate=False)
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                self.count += 1
                return encode_picture(image, self.max_px, self.count, f"{mime} output of {where}")
        except (binascii.Error, ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            self.notes.append(f"an image output of {where} could not be decoded ({type(exc).__name__}).")
            return None


def _cell(number: int, cell: Any, language: str, pictures: _Pictures) -> Section:
    if not isinstance(cell, dict):
        return Section(f"<!-- cell {number}: not a cell -->", "cell", number)
    kind = str(cell.get("cell_type") or "unknown")
    source = _text(cell.get("source", cell.get("input")))
    if kind == "markdown":
        return Section(f"<!-- cell {number}: markdown -->\n{source.strip()}", "cell", number, "markdown")
    if kind != "code":
        return Section(f"<!-- cell {number}: {kind} -->\n{_fence('text', source)}", "cell", number, kind)
    count = cell.get("execution_count", cell.get("prompt_number"))
    header = f"<!-- cell {number}: code" + (f", In [{count}]" if isinstance(count, int) else "") + " -->"
    parts = [header, _fence(language, source)]
    found: list[Picture] = []
    for output in cell.get("outputs") or []:
        if isinstance(output, dict):
            parts += _output(output, f"cell {number}", pictures, found)
    return Section("\n\n".join(parts), "cell", number, "code", pictures=found)


def _output(output: dict[str, Any], where: str, pictures: _Pictures, found: list[Picture]) -> list[str]:
    kind = output.get("output_type")
    if kind == "stream":
        name = str(output.get("name") or "stdout")
        return [_fence(f"output ({name})", _cut(_text(output.get("text"))))]
    if kind in ("error", "pyerr"):
        trace = _text("\n".join(_text(line) for line in output.get("traceback") or []))
        text = trace or f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return [_fence("output (error)", _cut(text))]
    bundle = output.get("data")
    data: dict[str, Any] = bundle if isinstance(bundle, dict) else output  # nbformat 3 keeps types at the top
    for mime in _IMAGE_TYPES:
        short = mime.split("/")[1]
        value = data.get(mime, data.get(short))
        if value:
            picture = pictures.take(value, mime, where)
            if picture is not None:
                found.append(picture)
                return [picture.marker]
    if data.get("image/svg+xml") or data.get("svg"):
        return [f"<!-- an SVG image output of {where}, not shown -->"]
    if data.get("text/markdown"):
        return [_text(data["text/markdown"]).strip()]
    if data.get("text/html") or data.get("html"):
        from .markup import html_to_markdown

        return [html_to_markdown(_text(data.get("text/html") or data.get("html")))]
    plain = data.get("text/plain", data.get("text"))
    if plain:
        return [_fence("output", _cut(_text(plain)))]
    return []
