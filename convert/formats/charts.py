"""Charts and pictures inside Office files, read from their DrawingML parts.

A chart becomes a Markdown table of its categories and series values (the
numbers cached in the file, as Office shows them); a picture becomes one
placeholder line with its name and alt text, never its bytes. Word and Excel
charts are found through the package's relationships; PowerPoint's through
python-pptx. XML is parsed with entities and network access turned off.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .tables import markdown_table

__all__ = ["Resolve", "SheetDrawings", "chart_markdown", "docx_charts", "picture_line", "sheet_drawings"]

_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS = {"c": _C, "a": _A, "xdr": _XDR, "rel": _REL, "r": _R}
_MAX_PART_BYTES = 20 * 1024**2  # a chart or drawing part larger than this is not a chart anyone drew


def picture_line(name: str, alt: str, where: str = "") -> str:
    """The placeholder a picture leaves in the text."""
    described = f' — "{" ".join(alt.split())}"' if alt.strip() else " — no alt text"
    return f"[picture: {name or 'unnamed'}{described}{f' at {where}' if where else ''}]"


Resolve = Callable[[str], list[str]]  # a cell reference such as "'Data'!$B$2:$B$4" → its values, in order


def chart_markdown(space: Any, max_rows: int, label: str = "chart", resolve: Resolve | None = None) -> str:
    """A chart (its c:chartSpace element) as a heading line and a table: one row per category, one column per series.

    The values are those cached in the chart; a chart saved without them (openpyxl writes none) has its
    references looked up through `resolve` when one is given (Excel files).
    """
    kinds = [_local(el.tag) for el in space.iterfind("c:chart/c:plotArea/*", _NS) if _local(el.tag).endswith("Chart")]
    title = " ".join(t.text or "" for t in space.iterfind("c:chart/c:title//a:t", _NS)).strip()
    heading = f"[{label}{': ' + title if title else ''} ({', '.join(kinds) or 'chart'})]"
    names: list[str] = []
    columns: list[dict[int, str]] = []
    categories: dict[int, str] = {}
    for series in space.iterfind("c:chart/c:plotArea/*/c:ser", _NS):
        name = " ".join(v.text or "" for v in series.iterfind("c:tx//c:v", _NS)).strip()
        if not name and resolve is not None:
            name = " ".join(resolve(series.findtext("c:tx//c:f", "", _NS)))
        names.append(name or f"Series {len(names) + 1}")
        for point_index, text in _points(series, ("c:cat", "c:xVal"), resolve).items():
            categories.setdefault(point_index, text)
        columns.append(_points(series, ("c:val", "c:yVal"), resolve))
    if not columns:
        return f"{heading}\n(no data series cached in the file)"
    indexes = sorted(set(categories) | {i for column in columns for i in column})
    rows = [["Category", *names]]
    rows += [[categories.get(i, str(i + 1)), *(column.get(i, "") for column in columns)] for i in indexes]
    return f"{heading}\n\n{markdown_table(rows, max_rows)}"


def _points(series: Any, tags: tuple[str, ...], resolve: Resolve | None) -> dict[int, str]:
    for tag in tags:
        element = series.find(tag, _NS)
        if element is None:
            continue
        cached = {int(pt.get("idx", "0")): (pt.findtext("c:v", "", _NS) or "") for pt in element.iterfind(".//c:pt", _NS)}
        reference = element.findtext(".//c:f", "", _NS)
        if not cached and reference and resolve is not None:
            return dict(enumerate(resolve(reference)))
        return cached
    return {}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(archive: zipfile.ZipFile, path: str) -> Any | None:
    from lxml import etree

    try:
        info = archive.getinfo(path)
    except KeyError:
        return None
    if info.file_size > _MAX_PART_BYTES:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        return etree.fromstring(archive.read(info), parser)
    except etree.XMLSyntaxError:
        return None


def _relations(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    """A part's relationships: id → the target part's path in the package."""
    folder, name = posixpath.split(part)
    rels = _xml(archive, posixpath.join(folder, "_rels", f"{name}.rels"))
    if rels is None:
        return {}
    out = {}
    for rel in rels.iterfind("rel:Relationship", _NS):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        out[rel.get("Id", "")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
    return out


def docx_charts(archive: zipfile.ZipFile, max_rows: int) -> list[str]:
    """Every chart of a Word document's body, in the order they appear."""
    body = _xml(archive, "word/document.xml")
    if body is None:
        return []
    rels = _relations(archive, "word/document.xml")
    out = []
    for number, ref in enumerate(body.iterfind(".//c:chart", _NS), start=1):
        space = _xml(archive, rels.get(ref.get(f"{{{_R}}}id", ""), ""))
        if space is not None:
            out.append(chart_markdown(space, max_rows, f"chart {number}"))
    return out


@dataclass
class SheetDrawings:
    """What a worksheet's drawing holds besides cells."""

    charts: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)


def sheet_drawings(archive: zipfile.ZipFile, max_rows: int, resolve: Resolve | None = None) -> list[SheetDrawings]:
    """Charts and pictures of each worksheet, in workbook order."""
    book = _xml(archive, "xl/workbook.xml")
    if book is None:
        return []
    book_rels = _relations(archive, "xl/workbook.xml")
    main = book.nsmap.get(None, "")
    out = []
    for sheet in book.iterfind(f"{{{main}}}sheets/{{{main}}}sheet"):
        found = SheetDrawings()
        sheet_part = book_rels.get(sheet.get(f"{{{_R}}}id", ""), "")
        for drawing_part in _relations(archive, sheet_part).values():
            if "/drawings/" in drawing_part and drawing_part.endswith(".xml"):
                _read_drawing(archive, drawing_part, found, max_rows, resolve)
        out.append(found)
    return out


def _read_drawing(archive: zipfile.ZipFile, part: str, found: SheetDrawings, max_rows: int, resolve: Resolve | None) -> None:
    drawing = _xml(archive, part)
    if drawing is None:
        return
    rels = _relations(archive, part)
    for anchor in drawing:
        start = anchor.find("xdr:from", _NS)
        where = _cell_name(start) if start is not None else ""
        for picture in anchor.iterfind(".//xdr:pic/xdr:nvPicPr/xdr:cNvPr", _NS):
            found.pictures.append(picture_line(picture.get("name", ""), picture.get("descr", ""), where))
        for ref in anchor.iterfind(".//c:chart", _NS):
            space = _xml(archive, rels.get(ref.get(f"{{{_R}}}id", ""), ""))
            if space is not None:
                label = f"chart {len(found.charts) + 1}{' at ' + where if where else ''}"
                found.charts.append(chart_markdown(space, max_rows, label, resolve))


def _cell_name(start: Any) -> str:
    from openpyxl.utils import get_column_letter

    try:
        return f"{get_column_letter(int(start.findtext('xdr:col', '0', _NS)) + 1)}{int(start.findtext('xdr:row', '0', _NS)) + 1}"
    except ValueError:
        return ""
