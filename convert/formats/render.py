"""Pages as pictures: PDF pages through PyMuPDF, PowerPoint slides through a small drawing of our own, images as they are.

No office suite is needed for slides: each one is drawn with Pillow from the
deck's own geometry (text boxes with their sizes and bold runs, filled shapes,
pictures, tables, and charts as bars of their series). It shows layout, figures
and numbers, not themes, effects or exact fonts. Runs in the conversion worker.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from typing import Any

from memento.core.errors import ConversionFailed, InvalidInput

from ..model import Picture
from .archives import open_archive
from .base import Blob, ConvertOptions
from .pictures import encode_picture

__all__ = ["RENDERABLE", "part_count", "render"]

RENDERABLE = {"pdf": "page", "pptx": "slide", "image": "page"}
_EMU_PER_PT = 12_700
_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")
_BOLD_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf")
_BAR_COLOURS = ("#4472c4", "#ed7d31", "#a5a5a5", "#ffc000", "#5b9bd5", "#70ad47")


def part_count(blob: Blob, options: ConvertOptions) -> int:
    """How many pages or slides `blob` has, so a `pages` selection can be checked before drawing."""
    if blob.format == "pdf":
        return int(_open_pdf(blob).page_count)
    if blob.format == "pptx":
        return len(_open_deck(blob, options).slides)
    return 1


def render(blob: Blob, numbers: list[int], options: ConvertOptions) -> list[Picture]:
    """The pages or slides `numbers` (1-based, already checked) as pictures no larger than `options.image_max_px`."""
    if blob.format == "pdf":
        return list(_pdf_pages(blob, numbers, options.image_max_px))
    if blob.format == "pptx":
        return list(_slides(blob, numbers, options))
    if blob.format == "image":
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = 100_000_000
        try:
            image = Image.open(io.BytesIO(blob.data))
            image.load()
        except Exception as exc:
            raise ConversionFailed(f"This image is damaged or not a readable image ({exc}).") from exc
        return [encode_picture(image, options.image_max_px, 1, blob.name or "the image")]
    raise InvalidInput(f"render_pages draws PDF pages, PowerPoint slides and images, not {blob.format}; read it with read_document.")


def _open_pdf(blob: Blob) -> Any:
    import pymupdf

    try:
        pdf = pymupdf.open(stream=blob.data, filetype="pdf")
    except Exception as exc:
        raise ConversionFailed(f"This PDF is damaged and could not be opened ({exc}).") from exc
    if pdf.needs_pass:
        raise ConversionFailed("This PDF is encrypted with a password, so its pages cannot be drawn. Ask for an unencrypted copy.")
    return pdf


def _pdf_pages(blob: Blob, numbers: list[int], max_px: int) -> Iterator[Picture]:
    import pymupdf
    from PIL import Image

    with _open_pdf(blob) as pdf:
        for number in numbers:
            page = pdf[number - 1]
            longest = max(page.rect.width, page.rect.height) or 1
            zoom = min(max_px / longest, 8.0)  # 8x is 576 dpi: more only costs memory
            try:
                pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
            except Exception as exc:
                raise ConversionFailed(f"PDF page {number} could not be drawn ({exc}).") from exc
            image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
            yield encode_picture(image, max_px, number, f"page {number} of {pdf.page_count}", photo=False)


def _open_deck(blob: Blob, options: ConvertOptions) -> Any:
    import pptx

    open_archive(blob.data, options, blob.name or "the deck").close()  # zip-bomb guard first
    try:
        return pptx.Presentation(io.BytesIO(blob.data))
    except Exception as exc:
        raise ConversionFailed(f"This PowerPoint file is damaged and could not be opened ({exc}).") from exc


def _slides(blob: Blob, numbers: list[int], options: ConvertOptions) -> Iterator[Picture]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 100_000_000
    deck = _open_deck(blob, options)
    width, height = deck.slide_width or 9_144_000, deck.slide_height or 6_858_000
    scale = options.image_max_px / max(width, height)
    slides = list(deck.slides)
    for number in numbers:
        canvas = Image.new("RGB", (max(1, round(width * scale)), max(1, round(height * scale))), "white")
        _SlideDrawing(canvas, scale).draw(slides[number - 1])
        yield encode_picture(canvas, options.image_max_px, number, f"slide {number} of {len(slides)} (simplified drawing)", photo=False)


class _SlideDrawing:
    """One slide drawn onto a Pillow canvas, shape by shape in z-order."""

    def __init__(self, canvas: Any, scale: float) -> None:
        from PIL import ImageDraw

        self.canvas = canvas
        self.pen = ImageDraw.Draw(canvas)
        self.scale = scale

    def draw(self, slide: Any) -> None:
        for shape in _flattened(slide.shapes):
            try:
                self._shape(shape)
            except Exception:  # one odd shape must not cost the whole slide
                continue

    def _box(self, shape: Any) -> tuple[int, int, int, int]:
        left, top = (shape.left or 0) * self.scale, (shape.top or 0) * self.scale
        return round(left), round(top), round(left + (shape.width or 0) * self.scale), round(top + (shape.height or 0) * self.scale)

    def _pt(self, points: float) -> int:
        return max(6, round(points * _EMU_PER_PT * self.scale))

    def _shape(self, shape: Any) -> None:
        box = self._box(shape)
        if box[2] <= box[0] or box[3] <= box[1]:
            return
        if shape.shape_type == 13:  # picture
            self._picture(shape, box)
        elif getattr(shape, "has_table", False) and shape.has_table:
            self._table(shape.table, box)
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            self._chart(shape.chart, box)
        else:
            fill = _solid_fill(shape)
            if fill:
                self.pen.rectangle(box, fill=fill)
            if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                is_title = getattr(shape, "is_placeholder", False) and shape.placeholder_format.type in (1, 3)  # title, centre title
                self._text(shape.text_frame, box, 36.0 if is_title else 18.0)

    def _picture(self, shape: Any, box: tuple[int, int, int, int]) -> None:
        from PIL import Image

        with Image.open(io.BytesIO(shape.image.blob)) as source:
            picture = source.convert("RGBA").resize((box[2] - box[0], box[3] - box[1]))
        self.canvas.paste(picture, box[:2], picture)

    def _text(self, frame: Any, box: tuple[int, int, int, int], default_pt: float) -> None:
        x, y = box[0] + self._pt(4), box[1] + self._pt(4)
        for paragraph in frame.paragraphs:
            text = "".join(run.text for run in paragraph.runs)
            sizes = [run.font.size.pt for run in paragraph.runs if run.font.size is not None]
            bold = any(run.font.bold for run in paragraph.runs)
            font = _font(self._pt(max(sizes) if sizes else default_pt), bold)
            indent = self._pt(18) * paragraph.level
            columns = max(8, int((box[2] - x - indent) / max(1, font.size * 0.55)))
            for line in textwrap.wrap(text, columns) or [""]:
                if y > self.canvas.height:
                    return
                self.pen.text((x + indent, y), line, fill=_run_colour(paragraph) or "black", font=font)
                y += round(font.size * 1.2)

    def _table(self, table: Any, box: tuple[int, int, int, int]) -> None:
        rows = list(table.rows)
        columns = len(table.columns) or 1
        row_height = (box[3] - box[1]) / max(1, len(rows))
        column_width = (box[2] - box[0]) / columns
        font = _font(max(6, min(self._pt(14), int(row_height * 0.6))), False)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row.cells):
                cell_box = (
                    round(box[0] + c * column_width),
                    round(box[1] + r * row_height),
                    round(box[0] + (c + 1) * column_width),
                    round(box[1] + (r + 1) * row_height),
                )
                self.pen.rectangle(cell_box, outline="#404040", fill="#dde4f0" if r == 0 else None)
                self.pen.text((cell_box[0] + 3, cell_box[1] + 2), cell.text.strip()[:60], fill="black", font=font)

    def _chart(self, chart: Any, box: tuple[int, int, int, int]) -> None:
        self.pen.rectangle(box, outline="#808080")
        font = _font(max(8, self._pt(12)), False)
        top = box[1] + 4
        if chart.has_title and chart.chart_title.has_text_frame:
            self.pen.text((box[0] + 6, top), chart.chart_title.text_frame.text[:80], fill="black", font=_font(font.size, True))
        top += round(font.size * 1.6)
        plot = chart.plots[0] if len(chart.plots) else None
        if plot is None:
            return
        series = [[float(v or 0) for v in s.values] for s in plot.series]
        categories = [str(c) for c in plot.categories]
        count = max((len(s) for s in series), default=0)
        peak = max((abs(v) for s in series for v in s), default=0) or 1
        bottom = box[3] - round(font.size * 1.6)
        if count == 0 or bottom <= top:
            return
        group = (box[2] - box[0] - 12) / count
        bar = group * 0.8 / max(1, len(series))
        for i in range(count):
            left = box[0] + 6 + i * group + group * 0.1
            for s, values in enumerate(series):
                if i < len(values):
                    y = bottom - (bottom - top) * abs(values[i]) / peak
                    self.pen.rectangle((left + s * bar, y, left + (s + 1) * bar - 1, bottom), fill=_BAR_COLOURS[s % len(_BAR_COLOURS)])
            if i < len(categories):
                self.pen.text((left, bottom + 2), categories[i][:12], fill="black", font=font)


def _flattened(shapes: Any) -> Iterator[Any]:
    for shape in shapes:
        if shape.shape_type == 6:  # group: children carry their own slide positions in the usual unscaled case
            yield from _flattened(shape.shapes)
        else:
            yield shape


def _solid_fill(shape: Any) -> str | None:
    try:
        fill = shape.fill
        if fill.type == 1:  # solid
            return f"#{fill.fore_color.rgb}"
    except Exception:  # theme colours and inherited fills have no rgb to read
        pass
    return None


def _run_colour(paragraph: Any) -> str | None:
    for run in paragraph.runs:
        try:
            if run.font.color and run.font.color.type is not None and run.font.color.rgb is not None:
                return f"#{run.font.color.rgb}"
        except Exception:  # a theme colour has no rgb
            continue
    return None


_FONTS: dict[tuple[int, bool], Any] = {}


def _font(size: int, bold: bool) -> Any:
    from PIL import ImageFont

    key = (size, bold)
    if key not in _FONTS:
        for path in _BOLD_FILES if bold else _FONT_FILES:
            try:
                _FONTS[key] = ImageFont.truetype(path, size)
                break
            except OSError:
                continue
        else:
            _FONTS[key] = ImageFont.load_default(size=size)
    return _FONTS[key]
