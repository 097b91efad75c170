"""Spreadsheet cells with what the eye sees: value, formula, number format, colours, bold/italic, merges, comments, links.

Many questions about a workbook are about formatting ("which cells are green",
"the bold total"), which a table of values loses. Colours are given as hex
and as a plain name, with theme and palette colours resolved. Runs in the
conversion worker (openpyxl loads the whole workbook); never writes.
"""

from __future__ import annotations

import colorsys
import io
from dataclasses import dataclass, field
from typing import Any

from memento.core.errors import ConversionFailed, InvalidInput
from memento.core.quoting import shown

from .archives import open_archive
from .base import Blob, ConvertOptions

__all__ = ["Cell", "CellsReport", "colour_name", "read_cells"]

# Theme colour index (as cells use it) → position of that colour in the theme's a:clrScheme.
_THEME_ORDER = (1, 0, 3, 2, 4, 5, 6, 7, 8, 9, 10, 11)
_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/main"


@dataclass
class Cell:
    ref: str
    value: Any = None
    formula: str | None = None
    number_format: str | None = None
    font_colour: str | None = None  # "#RRGGBB (name)"
    fill_colour: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False
    merged: str | None = None  # the merged range this cell belongs to
    comment: str | None = None
    hyperlink: str | None = None


@dataclass
class CellsReport:
    sheet: str
    sheet_names: list[str]
    range: str
    cells: list[Cell]
    blank: int  # cells in the range with no value and no formatting, left out
    merged: list[str]
    conditional: list[str]  # conditional formatting rules touching the sheet (not evaluated)
    next_range: str | None = None  # rows left over the cell limit
    notes: list[str] = field(default_factory=list)


def read_cells(blob: Blob, sheet: str | None, cell_range: str | None, options: ConvertOptions, max_cells: int) -> CellsReport:
    """The cells of `cell_range` (A1 notation; the sheet's used range when None) on `sheet` (name or 1-based number)."""
    import openpyxl
    from openpyxl.utils import get_column_letter, range_boundaries

    if blob.format != "xlsx":
        raise InvalidInput(f"read_cells reads Excel .xlsx workbooks; this is {blob.format}. Use read_document for its values.")
    open_archive(blob.data, options, blob.name or "the workbook").close()  # zip-bomb guard first
    try:
        formulas = openpyxl.load_workbook(io.BytesIO(blob.data), data_only=False, rich_text=False)
        values = openpyxl.load_workbook(io.BytesIO(blob.data), data_only=True, read_only=True)
    except Exception as exc:
        raise ConversionFailed(f"This Excel workbook is damaged and could not be opened ({exc}).") from exc
    try:
        names = formulas.sheetnames
        name = _sheet_name(sheet, names)
        sheet_f, sheet_v = formulas[name], values[name]
        spec = (cell_range or sheet_f.dimensions or "A1").replace("$", "").strip().upper()
        try:
            min_col, min_row, max_col, max_row = range_boundaries(spec if ":" in spec else f"{spec}:{spec}")
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f'Malformed range {shown(cell_range or "")!r}: use A1 notation such as "B2:D20" or "C5".') from exc
        if None in (min_col, min_row, max_col, max_row):
            raise InvalidInput(f'range {shown(spec)!r} must name both corners, e.g. "A1:F40" (whole columns or rows are not read).')
        assert min_col is not None and min_row is not None and max_col is not None and max_row is not None
        width = max_col - min_col + 1
        rows_fit = max(1, max_cells // width)
        last_row = min(max_row, min_row + rows_fit - 1)
        next_range = None
        if last_row < max_row:
            next_range = f"{get_column_letter(min_col)}{last_row + 1}:{get_column_letter(max_col)}{max_row}"
        theme = _theme_colours(formulas.loaded_theme)
        merged_ranges = [str(r) for r in sheet_f.merged_cells.ranges]
        merged_of = {}
        for merged in sheet_f.merged_cells.ranges:
            for row, column in merged.cells:
                merged_of[(row, column)] = str(merged)
        value_rows = sheet_v.iter_rows(min_row=min_row, max_row=last_row, min_col=min_col, max_col=max_col, values_only=True)
        cells: list[Cell] = []
        blank = 0
        for row_number, row_values in zip(range(min_row, last_row + 1), value_rows, strict=False):
            for offset, value in enumerate(row_values):
                column = min_col + offset
                cell = _describe(sheet_f.cell(row=row_number, column=column), value, theme, merged_of.get((row_number, column)))
                if cell is None:
                    blank += 1
                else:
                    cells.append(cell)
        conditional = [
            f"{rng.sqref}: {', '.join(_rule(rule) for rule in rules)}" for rng, rules in sheet_f.conditional_formatting._cf_rules.items()
        ]
        visible = [n for n in names if formulas[n].sheet_state == "visible"]
        notes = [] if name in visible else [f"sheet {name!r} is hidden in Excel"]
        area = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last_row}"
        return CellsReport(name, names, area, cells, blank, merged_ranges, conditional, next_range, notes)
    finally:
        values.close()


def _sheet_name(sheet: str | None, names: list[str]) -> str:
    if sheet is None or not sheet.strip():
        return names[0]
    if sheet in names:
        return sheet
    if sheet.strip().isdigit() and 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    folded = {n.casefold(): n for n in names}
    if sheet.strip().casefold() in folded:
        return folded[sheet.strip().casefold()]
    raise InvalidInput(
        f"No sheet {shown(sheet)!r}: the workbook's sheets are {', '.join(repr(n) for n in names)} (or pass 1-{len(names)})."
    )


def _describe(cell: Any, value: Any, theme: list[str], merged: str | None) -> Cell | None:
    font, fill = cell.font, cell.fill
    formula = None
    raw = cell.value
    if isinstance(raw, str) and raw.startswith("="):
        formula = raw
    elif raw is not None and type(raw).__name__ in ("ArrayFormula", "DataTableFormula"):
        formula = getattr(raw, "text", None) or str(raw)
    font_colour = _colour(font.color, theme) if font is not None else None
    fill_colour = None
    if fill is not None and getattr(fill, "fill_type", None) == "solid":
        fill_colour = _colour(fill.fgColor, theme)
    elif fill is not None and getattr(fill, "fill_type", None) not in (None, "none"):
        fill_colour = _colour(fill.fgColor, theme)
        if fill_colour:
            fill_colour += f" ({fill.fill_type} pattern)"
    if font_colour and font_colour.startswith("#000000"):
        font_colour = None  # the default black says nothing
    described = Cell(
        ref=cell.coordinate,
        value=_plain(value if formula else (value if value is not None else raw)),
        formula=formula,
        number_format=cell.number_format if cell.number_format and cell.number_format != "General" else None,
        font_colour=font_colour,
        fill_colour=fill_colour,
        bold=bool(font and font.b),
        italic=bool(font and font.i),
        underline=bool(font and font.u),
        strike=bool(font and font.strike),
        merged=merged,
        comment=cell.comment.text.strip() if cell.comment is not None and cell.comment.text else None,
        hyperlink=(cell.hyperlink.target or cell.hyperlink.location) if cell.hyperlink is not None else None,
    )
    shown_anything = (
        described.value not in (None, "")
        or described.formula
        or described.fill_colour
        or described.comment
        or described.hyperlink
        or (described.merged and described.merged.startswith(described.ref + ":"))
    )
    return described if shown_anything else None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _rule(rule: Any) -> str:
    what = rule.type or "rule"
    if rule.operator:
        what += f" {rule.operator}"
    if rule.formula:
        what += f" {', '.join(rule.formula)}"
    return what


def _colour(colour: Any, theme: list[str]) -> str | None:
    """'#RRGGBB (name)' for an openpyxl Color, resolving theme and palette colours; None when unset or automatic."""
    from openpyxl.styles.colors import COLOR_INDEX

    if colour is None:
        return None
    rgb: str | None = None
    kind = getattr(colour, "type", None)
    if kind == "rgb" and isinstance(colour.rgb, str):
        rgb = colour.rgb[-6:]
    elif kind == "indexed" and isinstance(colour.indexed, int):
        if colour.indexed >= len(COLOR_INDEX) - 2:  # 64/65: the system's automatic colours
            return None
        rgb = COLOR_INDEX[colour.indexed][-6:]
    elif kind == "theme" and isinstance(colour.theme, int) and colour.theme < len(theme):
        rgb = _tinted(theme[colour.theme], float(colour.tint or 0))
    if rgb is None or len(rgb) != 6:
        return None
    rgb = rgb.upper()
    return f"#{rgb} ({colour_name(rgb)})"


def _tinted(rgb: str, tint: float) -> str:
    red, green, blue = (int(rgb[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, light, saturation = colorsys.rgb_to_hls(red, green, blue)
    light = light * (1 + tint) if tint < 0 else light * (1 - tint) + tint
    return "".join(f"{round(v * 255):02X}" for v in colorsys.hls_to_rgb(hue, light, saturation))


def colour_name(rgb: str) -> str:
    """A plain name for a colour ('green', 'light red', 'dark grey'…), so a model can match 'the green cells'."""
    red, green, blue = (int(rgb[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, light, saturation = colorsys.rgb_to_hls(red, green, blue)
    if light >= 0.95:
        return "white"
    if light <= 0.08:
        return "black"
    if saturation < 0.15 or (max(red, green, blue) - min(red, green, blue)) < 0.08:
        return "light grey" if light > 0.7 else "dark grey" if light < 0.3 else "grey"
    degrees = hue * 360
    names = ((15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (200, "cyan"), (255, "blue"), (290, "purple"), (335, "pink"))
    name = next((n for limit, n in names if degrees < limit), "red")
    if light > 0.75:
        return f"light {name}"
    if light < 0.3:
        return f"dark {name}"
    return name


def _theme_colours(theme_xml: bytes | None) -> list[str]:
    """The workbook theme's colours in the order cells index them (lt1, dk1, lt2, dk2, accent1-6, links)."""
    default = ["FFFFFF", "000000", "E7E6E6", "44546A", "4472C4", "ED7D31", "A5A5A5", "FFC000", "5B9BD5", "70AD47", "0563C1", "954F72"]
    if not theme_xml:
        return default
    from lxml import etree

    try:
        root = etree.fromstring(theme_xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return default
    scheme = root.find(f".//{{{_DRAWING}}}clrScheme")
    if scheme is None or len(scheme) < 12:
        return default
    colours = []
    for element in scheme[:12]:
        value = element.find(f"{{{_DRAWING}}}srgbClr")
        system = element.find(f"{{{_DRAWING}}}sysClr")
        colours.append((value.get("val") if value is not None else system.get("lastClr") if system is not None else None) or "000000")
    return [colours[i] for i in _THEME_ORDER]
