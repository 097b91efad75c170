"""Spreadsheets and delimited text: XLSX (openpyxl), XLS (xlrd), CSV/TSV (csv) as Markdown tables.

Every sheet becomes a section with its own table, header first. Rows past the
limit are counted in a note, never dropped silently. Formulas show their last
computed value, as a reader of the file would see it.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from memento.core.errors import ConversionFailed

from ..charsets import decode_body
from ..model import Document, Section
from .archives import open_archive
from .base import Blob, ConvertOptions
from .tables import markdown_table

FORMATS = ("xlsx", "xls", "csv", "tsv")


def convert(blob: Blob, options: ConvertOptions) -> Document:
    if blob.format == "xlsx":
        return _xlsx(blob, options)
    if blob.format == "xls":
        return _xls(blob, options)
    return _delimited(blob, options)


def _table(rows: list[list[Any]], total_rows: int, options: ConvertOptions, what: str = "sheet") -> str:
    """A Markdown table of the first rows, and a note counting the rows left out."""
    rows = _trim(rows)
    if not rows:
        return f"(empty {what})"
    body = markdown_table([[_show(v) for v in r] for r in rows[: options.max_rows + 1]], options.max_rows)
    hidden = total_rows - min(len(rows), options.max_rows + 1)
    if hidden > 0:
        body += (
            f"\n\n[{hidden} more rows not shown: the {what} has {total_rows} rows including the header, and at most "
            f"{options.max_rows} data rows are shown (MEMENTO_DOCUMENTS_MAX_ROWS). Analyse the whole {what} with code.]"
        )
    return body


def _sheet_section(number: int, name: str, rows: list[list[Any]], total_rows: int, options: ConvertOptions) -> Section:
    return Section(f"## Sheet {number}: {name}\n\n{_table(rows, total_rows, options)}", "sheet", number, name)


def _xlsx(blob: Blob, options: ConvertOptions) -> Document:
    import openpyxl

    open_archive(blob.data, options, blob.name or "the workbook").close()  # zip-bomb guard first
    try:
        book = openpyxl.load_workbook(io.BytesIO(blob.data), read_only=True, data_only=True)
    except Exception as exc:
        raise ConversionFailed(f"This Excel workbook is damaged and could not be opened ({exc}).") from exc
    try:
        props = book.properties
        metadata = {
            k: v
            for k, v in {
                "sheets": len(book.sheetnames),
                "sheet_names": book.sheetnames,
                "title": props.title,
                "author": props.creator,
                "created": props.created.isoformat() if props.created else None,
                "modified": props.modified.isoformat() if props.modified else None,
            }.items()
            if v
        }
        if options.metadata_only:
            return Document("xlsx", [], metadata)
        sections = []
        for number, sheet in enumerate(book.worksheets, start=1):
            rows: list[list[Any]] = []
            total = 0
            for row in sheet.iter_rows(values_only=True):
                total += 1
                if len(rows) <= options.max_rows:  # the header and max_rows data rows
                    rows.append(list(row))
            sections.append(_sheet_section(number, sheet.title, rows, total, options))
        _add_drawings(blob.data, book, sections, options)
    finally:
        book.close()
    return Document("xlsx", sections, metadata)


def _add_drawings(data: bytes, book: Any, sections: list[Section], options: ConvertOptions) -> None:
    """Each sheet's charts (as tables) and pictures (as placeholders) after its cells: openpyxl's reader skips them."""
    import zipfile

    from .charts import sheet_drawings

    def resolve(reference: str) -> list[str]:
        # A chart saved without cached values names its cells instead, e.g. 'Data'!$B$2:$B$4.
        from openpyxl.utils import range_boundaries

        sheet_name, _, cells = reference.rpartition("!")
        sheet_name = sheet_name.strip("'").replace("''", "'")
        if sheet_name not in book.sheetnames or not cells:
            return []
        try:
            min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
        except ValueError:
            return []
        if min_row is None or max_row is None or max_row - min_row > options.max_rows:
            return []
        rows = book[sheet_name].iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col, values_only=True)
        return [_show(value) for row in rows for value in row]

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        drawings = sheet_drawings(archive, options.max_rows, resolve)
    for section, found in zip(sections, drawings, strict=False):
        if found.pictures:
            section.text += "\n\n### Pictures\n\n" + "\n".join(found.pictures)
        if found.charts:
            section.text += "\n\n### Charts\n\n" + "\n\n".join(found.charts)


def _xls(blob: Blob, options: ConvertOptions) -> Document:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=blob.data, on_demand=True)
    except Exception as exc:
        raise ConversionFailed(f"This legacy Excel (.xls) file could not be opened ({exc}).") from exc
    metadata: dict[str, Any] = {"sheets": book.nsheets, "sheet_names": book.sheet_names()}
    if book.user_name:
        metadata["last_modified_by"] = book.user_name
    if options.metadata_only:
        return Document("xls", [], metadata)
    sections = []
    for number in range(book.nsheets):
        sheet = book.sheet_by_index(number)
        limit = min(sheet.nrows, options.max_rows + 1)
        rows = [[_xls_value(cell, book.datemode) for cell in sheet.row(r)] for r in range(limit)]
        sections.append(_sheet_section(number + 1, sheet.name, rows, sheet.nrows, options))
    return Document("xls", sections, metadata)


def _xls_value(cell: Any, datemode: int) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode).isoformat()
        except Exception:
            return cell.value
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return int(cell.value)
    return cell.value


def _delimited(blob: Blob, options: ConvertOptions) -> Document:
    text, encoding = decode_body(blob.data)
    delimiter = "\t" if blob.format == "tsv" else _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    total = 0
    try:
        for row in reader:
            total += 1
            if len(rows) <= options.max_rows:
                rows.append(row)
    except csv.Error as exc:
        raise ConversionFailed(f"Malformed {blob.format.upper()} at line {reader.line_num}: {exc}.") from exc
    metadata = {"rows": total, "columns": max((len(r) for r in rows), default=0), "encoding": encoding}
    if options.metadata_only:
        return Document(blob.format, [], metadata)
    return Document(blob.format, [Section(_table(rows, total, options, "table"))], metadata)


def _sniff_delimiter(text: str) -> str:
    sample = text[:20_000]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _trim(rows: list[list[Any]]) -> list[list[Any]]:
    """Drop trailing empty rows and columns (spreadsheets often carry formatted blanks)."""
    while rows and all(v in (None, "") for v in rows[-1]):
        rows.pop()
    width = 0
    for row in rows:
        for i in range(len(row) - 1, -1, -1):
            if row[i] not in (None, ""):
                width = max(width, i + 1)
                break
    return [list(r[:width]) for r in rows]


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
