"""Word (DOCX) through mammoth's semantic HTML, PowerPoint (PPTX) through python-pptx.

Pictures leave a placeholder with their name and alt text (never their bytes
as base64); charts become tables of their categories and series values.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from memento.core.errors import ConversionFailed

from ..model import Document, Section
from .archives import open_archive
from .base import Blob, ConvertOptions
from .charts import chart_markdown, docx_charts, picture_line
from .markup import html_to_markdown
from .tables import markdown_table

FORMATS = ("docx", "pptx")


def convert(blob: Blob, options: ConvertOptions) -> Document:
    open_archive(blob.data, options, blob.name or "the document").close()  # zip-bomb guard first
    if blob.format == "docx":
        return _docx(blob, options)
    return _pptx(blob, options)


def _core(props: Any) -> dict[str, Any]:
    fields = {
        "title": props.title,
        "author": props.author,
        "subject": props.subject,
        "created": props.created.isoformat() if props.created else None,
        "modified": props.modified.isoformat() if props.modified else None,
        "last_modified_by": props.last_modified_by,
    }
    return {k: v for k, v in fields.items() if v}


def _docx(blob: Blob, options: ConvertOptions) -> Document:
    import docx
    import mammoth

    try:
        document = docx.Document(io.BytesIO(blob.data))
        metadata = {**_core(document.core_properties), "paragraphs": len(document.paragraphs), "tables": len(document.tables)}
    except Exception as exc:
        raise ConversionFailed(f"This Word document is damaged and could not be opened ({exc}).") from exc
    if options.metadata_only:
        return Document("docx", [], metadata)
    pictures = _docx_pictures(document)
    alts: list[str] = []

    def placeholder(image: Any) -> dict[str, str]:
        # mammoth would inline the picture as a data: URI; a numbered stand-in is swapped for a placeholder below.
        alts.append(image.alt_text or "")
        return {"src": f"memento-picture-{len(alts)}"}

    try:
        html = mammoth.convert_to_html(io.BytesIO(blob.data), convert_image=mammoth.images.img_element(placeholder)).value
    except Exception as exc:
        raise ConversionFailed(f"This Word document could not be converted ({exc}).") from exc

    def picture(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        name, descr = pictures[index] if index < len(pictures) else (f"picture {index + 1}", "")
        return picture_line(name, descr or (alts[index] if index < len(alts) else ""))

    markdown = _PICTURE_REF.sub(picture, html_to_markdown(html))
    with zipfile.ZipFile(io.BytesIO(blob.data)) as archive:
        charts = docx_charts(archive, options.max_rows)
    if charts:
        markdown += "\n\n## Charts\n\n" + "\n\n".join(charts)
    return Document("docx", [Section(markdown)], metadata)


_PICTURE_REF = re.compile(r'!\[[^\n]*?\]\(memento-picture-(\d+)(?: "[^"\n]*")?\)')
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_PIC = "http://schemas.openxmlformats.org/drawingml/2006/picture"


def _docx_pictures(document: Any) -> list[tuple[str, str]]:
    """(name, alt text) of each drawn picture of the body, in document order (charts and shapes skipped)."""
    out = []
    for frame in document.element.body.iter(f"{{{_WP}}}inline", f"{{{_WP}}}anchor"):
        if next(frame.iter(f"{{{_PIC}}}pic"), None) is None:
            continue
        properties = next(frame.iter(f"{{{_WP}}}docPr"), None)
        out.append(
            (properties.get("name", "") if properties is not None else "", properties.get("descr", "") if properties is not None else "")
        )
    return out


def _pptx(blob: Blob, options: ConvertOptions) -> Document:
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(blob.data))
    except Exception as exc:
        raise ConversionFailed(f"This PowerPoint file is damaged and could not be opened ({exc}).") from exc
    metadata = {**_core(deck.core_properties), "slides": len(deck.slides)}
    if options.metadata_only:
        return Document("pptx", [], metadata)
    sections = [Section(_slide_markdown(slide, options), "slide", n) for n, slide in enumerate(deck.slides, start=1)]
    return Document("pptx", sections, metadata)


def _slide_markdown(slide: Any, options: ConvertOptions) -> str:
    lines: list[str] = []
    title_shape = slide.shapes.title
    if title_shape is not None and title_shape.has_text_frame and title_shape.text_frame.text.strip():
        lines.append(f"# {title_shape.text_frame.text.strip()}")
    for shape in _shapes(slide.shapes):
        if shape is title_shape:
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text.strip() for cell in row.cells] for row in shape.table.rows]
            lines.append(markdown_table(rows, options.max_rows))
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            lines.append(chart_markdown(shape.chart._chartSpace, options.max_rows, f"chart: {shape.name}"))
        elif shape.has_text_frame and shape.text_frame.text.strip():
            for paragraph in shape.text_frame.paragraphs:
                text = "".join(run.text for run in paragraph.runs).strip()
                if text:
                    lines.append(("  " * paragraph.level) + ("- " if paragraph.level else "") + text)
        elif shape.shape_type == 13:  # picture
            alt = shape._element.xpath(".//p:cNvPr/@descr")
            lines.append(picture_line(shape.name, alt[0] if alt else ""))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
        if notes:
            lines.append("### Notes\n" + notes)
    return "\n\n".join(lines)


def _shapes(shapes: Any):
    """Shapes in reading order, groups flattened."""
    ordered = sorted(shapes, key=lambda s: ((s.top or 0), (s.left or 0)))
    for shape in ordered:
        if shape.shape_type == 6:  # group
            yield from _shapes(shape.shapes)
        else:
            yield shape
