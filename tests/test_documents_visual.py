"""Images for a model's eyes, over the official MCP client on stdio and streamable HTTP.

An image read comes back as image content beside its OCR text and EXIF;
render_pages draws PDF pages and slides; Office pictures are placeholders (never
base64) and charts are tables of their numbers; read_cells shows the formatting
GAIA asks about; an EPUB's description and subjects are in its facts and text.
All files are generated here.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from tests import docgen
from tests.mcp_servers import http_client_for, stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MAX_PX = 300


def _decoded(block) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(block.data)))


def _big_photo(folder: Path) -> Path:
    """A 1200x900 noisy 'photograph' (too many colours for PNG to be the right choice)."""
    path = folder / "big_photo.jpg"
    image = Image.effect_noise((1200, 900), 60).convert("RGB")
    image.save(path, format="JPEG", quality=90)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("visual")
    docgen.make_png_with_text(out)
    docgen.make_pdf(out)
    docgen.make_long_pdf(out)
    docgen.make_pptx(out)
    docgen.make_docx(out)
    _big_photo(out)
    return out


@pytest.fixture(params=["stdio", "http"])
async def client(request, folder: Path):
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(folder), "MEMENTO_DOCUMENTS_IMAGE_MAX_PX": str(MAX_PX), "MEMENTO_DOCUMENTS_RENDER_MAX_PAGES": "3"}
    opener = stdio_client_for if request.param == "stdio" else http_client_for
    async with opener("documents", env=env, cwd=folder) as connected:
        yield connected


async def test_an_image_comes_back_as_image_content_downscaled_beside_its_ocr_text(client) -> None:
    result = await client.call_tool("read_document", {"source": "sign.png"})
    assert not result.is_error, result.content[0].text
    text = result.content[0].text
    assert "HELLO OCR 42" in text and "800x200" in text  # OCR and the original size stay in the text
    assert [block.type for block in result.content] == ["text", "image"]
    image = _decoded(result.content[1])
    assert result.content[1].mime_type == "image/png" and image.format == "PNG"
    assert image.size == (MAX_PX, 75)  # longest side at the limit, aspect kept
    assert result.structured_content["images"] == 1

    photo = await client.call_tool("read_document", {"source": "big_photo.jpg"})
    assert photo.content[1].mime_type == "image/jpeg"
    assert _decoded(photo.content[1]).size == (MAX_PX, 225)


async def test_render_pages_draws_the_selected_pdf_pages_and_names_the_ones_over_the_limit(client) -> None:
    result = await client.call_tool("render_pages", {"source": "long.pdf", "pages": "2-6"})
    assert not result.is_error, result.content[0].text
    images = [_decoded(b) for b in result.content[1:]]
    assert len(images) == 3 and all(max(i.size) == MAX_PX for i in images)
    assert result.structured_content["drawn"] == [2, 3, 4] and result.structured_content["not_drawn"] == [5, 6]
    assert 'pages="5-6"' in result.content[0].text
    # A drawn page has ink on it: its text is there, not a blank canvas.
    assert images[0].convert("L").getextrema()[0] < 100

    one = await client.call_tool("render_pages", {"source": "report.pdf"})
    assert one.structured_content["drawn"] == [1] and len(one.content) == 2


async def test_render_pages_draws_slides_without_an_office_suite(client) -> None:
    result = await client.call_tool("render_pages", {"source": "deck.pptx", "pages": "3"})
    assert not result.is_error, result.content[0].text
    slide = _decoded(result.content[1])
    assert slide.size == (MAX_PX, 225)  # 4:3 deck
    assert slide.convert("L").getextrema()[0] < 100  # the title and table are drawn
    assert "simple renderer" in result.content[0].text


async def test_render_pages_refuses_what_it_cannot_draw_and_bad_ranges(client) -> None:
    word = await client.call_tool("render_pages", {"source": "memo.docx"})
    assert word.is_error and "read_document" in word.content[0].text
    past = await client.call_tool("render_pages", {"source": "report.pdf", "pages": "9"})
    assert past.is_error and "3 pages" in past.content[0].text
    # The server is fine afterwards.
    assert not (await client.call_tool("render_pages", {"source": "report.pdf", "pages": "2"})).is_error


# --------------------------------------------------------------------------- Office pictures and charts

_DOCX_CHART_RUN = (
    '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
    '<wp:extent cx="4000000" cy="3000000"/><wp:docPr id="99" name="Chart 1"/>'
    '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
    '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
    '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rIdChart1"/>'
    "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
)


def _chart_xml() -> bytes:
    """A bar chart's DrawingML part, as python-pptx writes it (Word and Excel use the same schema)."""
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    deck = docgen.pptx.Presentation()
    data = CategoryChartData()
    data.categories = ["North", "South", "East"]
    data.add_series("Sales 2023", (10.5, 20, 30))
    data.add_series("Sales 2024", (11, 25, 35.25))
    frame = deck.slides.add_slide(deck.slide_layouts[6]).shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1), Inches(6), Inches(4), data
    )
    frame.chart.has_title = True
    frame.chart.chart_title.text_frame.text = "Regional sales"
    return frame.chart.part.blob


def _office_with_pictures(folder: Path) -> None:
    import zipfile

    import docx
    import openpyxl
    import pptx
    from openpyxl.chart import BarChart, Reference
    from openpyxl.drawing.image import Image as SheetImage
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    picture = folder / "logo.png"
    Image.effect_noise((400, 300), 50).convert("RGB").save(picture)  # a picture that is big as base64

    document = docx.Document()
    document.add_paragraph("Before the figure: docx-picture-token.")
    document.add_picture(str(picture))
    properties = document.element.body.xpath(".//wp:docPr")[0]
    properties.set("name", "Figure Logo")
    properties.set("descr", "Company logo, a grey square")
    document.add_paragraph("Chart follows.")
    buffer = io.BytesIO()
    document.save(buffer)
    # Word's own charts: add a chart part and a drawing that points at it, as Word stores them.
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(folder / "figures.docx", "w") as out:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "word/document.xml":
                content = content.replace(
                    b"<w:p><w:r><w:t>Chart follows.", b"<w:p>" + _DOCX_CHART_RUN.encode() + b"<w:r><w:t>Chart follows."
                )
                assert b"rIdChart1" in content
            elif info.filename == "word/_rels/document.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdChart1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart" '
                    b'Target="charts/chart1.xml"/></Relationships>',
                )
            elif info.filename == "[Content_Types].xml":
                content = content.replace(
                    b"</Types>",
                    b'<Override PartName="/word/charts/chart1.xml" '
                    b'ContentType="application/vnd.openxmlformats-officedocument.drawingml.chart+xml"/></Types>',
                )
            out.writestr(info, content)
        out.writestr("word/charts/chart1.xml", _chart_xml())

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Figures slide"
    shape = slide.shapes.add_picture(str(picture), Inches(0.5), Inches(1.5), Inches(3), Inches(2.25))
    shape.name = "Slide Logo"
    shape._element.xpath(".//p:cNvPr")[0].set("descr", "Logo on the slide")
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("Revenue", (100, 150))
    slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(4), Inches(1.5), Inches(5), Inches(4), data)
    deck.save(folder / "figures.pptx")

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    for row in (["Month", "Units"], ["Jan", 7], ["Feb", 9], ["Mar", 4]):
        sheet.append(row)
    chart = BarChart()
    chart.title = "Units per month"
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=4), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=4))
    sheet.add_chart(chart, "D2")
    image = SheetImage(str(picture))
    image.anchor = "D20"
    sheet.add_image(image)
    book.save(folder / "figures.xlsx")


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("office")
    _office_with_pictures(out)
    return out


async def test_office_pictures_are_placeholders_with_name_and_alt_text_and_charts_are_tables(office: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(office)}, cwd=office) as client:
        word = await _text(client, "figures.docx")
        deck = await _text(client, "figures.pptx")
        sheet = await _text(client, "figures.xlsx")
    for text in (word, deck, sheet):
        assert "base64" not in text and "data:image" not in text
        assert len(text) < 3000, len(text)  # a placeholder, not thousands of characters of picture
    assert '[picture: Figure Logo — "Company logo, a grey square"]' in word
    assert "docx-picture-token" in word
    assert "Regional sales" in word
    assert "| Category | Sales 2023 | Sales 2024 |" in word and "| South | 20 | 25 |" in word and "| East | 30 | 35.25 |" in word

    assert '[picture: Slide Logo — "Logo on the slide"]' in deck
    assert "| Category | Revenue |" in deck and "| Q2 | 150 |" in deck

    assert "[picture: " in sheet and "at D20" in sheet
    assert "Units per month" in sheet and "at D2" in sheet
    assert "| Category | Units |" in sheet


async def _text(client, source: str) -> str:
    result = await client.call_tool("read_document", {"source": source, "max_length": 1_000_000})
    assert not result.is_error, result.content[0].text
    return result.content[0].text


# --------------------------------------------------------------------------- read_cells


def _formatted_workbook(folder: Path) -> Path:
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import Color, Font, PatternFill

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Scores"
    sheet.append(["Name", "Score", "Share"])
    sheet.append(["Ada", 91, 0.455])
    sheet.append(["Bob", 64, 0.32])
    sheet.append(["Cy", 45, 0.225])
    sheet["A5"] = "Total"
    sheet["B5"] = "=SUM(B2:B4)"
    sheet["A5"].font = Font(bold=True)
    sheet["B5"].font = Font(bold=True, italic=True, color="FFFF0000")
    sheet["A2"].fill = PatternFill("solid", fgColor="FF00B050")  # green, as RGB
    sheet["A3"].fill = PatternFill(
        "solid", fgColor=Color(theme=6, tint=0.6)
    )  # accent3 (green in the default theme) lightened, as a theme colour
    sheet["A4"].fill = PatternFill("solid", fgColor=Color(indexed=10))  # palette red
    for row in (2, 3, 4):
        sheet.cell(row=row, column=3).number_format = "0.0%"
    sheet["A1"].comment = Comment("Pupils of class 4b", "Teacher")
    sheet["C1"].hyperlink = "https://example.org/scores"
    sheet.merge_cells("D1:E2")
    sheet["D1"] = "Merged header"
    sheet["F9"].fill = PatternFill("solid", fgColor="FFFFFF00")  # a yellow cell with no value still counts
    sheet.conditional_formatting.add(
        "B2:B4", CellIsRule(operator="greaterThan", formula=["80"], fill=PatternFill("solid", fgColor="FFC6EFCE"))
    )
    book.create_sheet("Other")["A1"] = "other-sheet-token"
    path = folder / "scores.xlsx"
    book.save(path)
    return path


@pytest.fixture(scope="module")
def workbook_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cells")
    _formatted_workbook(out)
    docgen.make_csv(out)
    return out


@pytest.fixture(params=["stdio", "http"])
async def cells_client(request, workbook_folder: Path):
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(workbook_folder), "MEMENTO_DOCUMENTS_MAX_CELLS": "12"}
    opener = stdio_client_for if request.param == "stdio" else http_client_for
    async with opener("documents", env=env, cwd=workbook_folder) as connected:
        yield connected


async def test_read_cells_gives_values_formulas_colours_and_styles(cells_client) -> None:
    result = await cells_client.call_tool("read_cells", {"source": "scores.xlsx", "range": "A1:C5"})
    assert not result.is_error, result.content[0].text
    cells = {cell["ref"]: cell for cell in result.structured_content["cells"]}
    text = result.content[0].text
    assert cells["A2"]["fill_colour"] == "#00B050 (green)"
    assert cells["A3"]["fill_colour"].endswith("(light green)")  # the theme colour, resolved and tinted
    assert cells["A4"]["fill_colour"] == "#FF0000 (red)"  # the palette colour
    assert cells["A1"]["comment"] == "Pupils of class 4b" and cells["C1"]["hyperlink"] == "https://example.org/scores"
    assert cells["C2"]["number_format"] == "0.0%" and cells["C2"]["value"] == 0.455
    assert cells["B2"]["fill_colour"] is None and not cells["B2"]["bold"] and cells["B2"]["font_colour"] is None
    assert "D1:E2" in result.structured_content["merged_ranges"]
    assert any(rule.startswith("B2:B4: cellIs greaterThan 80") for rule in result.structured_content["conditional_formatting"])
    assert "A2: 'Ada' · fill #00B050 (green)" in text
    # 15 cells asked, at most 12 described: four rows of three, and the last row is named for the next call.
    assert result.structured_content["range"] == "A1:C4" and result.structured_content["next_range"] == "A5:C5"
    assert 'range="A5:C5"' in text

    rest = await cells_client.call_tool("read_cells", {"source": "scores.xlsx", "range": "A5:C5"})
    cells = {cell["ref"]: cell for cell in rest.structured_content["cells"]}
    assert cells["B5"]["formula"] == "=SUM(B2:B4)" and cells["B5"]["bold"] and cells["B5"]["italic"]
    assert cells["B5"]["font_colour"] == "#FF0000 (red)" and cells["A5"]["bold"] and not cells["A5"]["italic"]
    assert rest.structured_content["next_range"] is None and rest.structured_content["blank_cells"] == 1  # C5


async def test_read_cells_reads_other_sheets_the_used_range_and_refuses_bad_input(cells_client) -> None:
    other = await cells_client.call_tool("read_cells", {"source": "scores.xlsx", "sheet": "2"})
    assert other.structured_content["cells"][0]["value"] == "other-sheet-token"
    used = await cells_client.call_tool("read_cells", {"source": "scores.xlsx", "range": "F9"})
    assert used.structured_content["cells"] == [dict(used.structured_content["cells"][0], ref="F9")]
    assert used.structured_content["cells"][0]["fill_colour"] == "#FFFF00 (yellow)"

    missing = await cells_client.call_tool("read_cells", {"source": "scores.xlsx", "sheet": "Nope"})
    assert missing.is_error and "'Scores'" in missing.content[0].text
    malformed = await cells_client.call_tool("read_cells", {"source": "scores.xlsx", "range": "1A:ZZ"})
    assert malformed.is_error and "A1 notation" in malformed.content[0].text
    csv = await cells_client.call_tool("read_cells", {"source": "data.csv"})
    assert csv.is_error and "read_document" in csv.content[0].text


# --------------------------------------------------------------------------- EPUB metadata


def _described_epub(folder: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("described-0001")
    book.set_title("Lighthouse Notes")
    book.set_language("en")
    book.add_author("Ida Lewis")
    book.add_metadata("DC", "description", "<p>A keeper's <b>log</b> of storms: epub-description-token.</p>")
    book.add_metadata("DC", "subject", "Lighthouses")
    book.add_metadata("DC", "subject", "Rhode Island -- History")
    book.add_metadata("DC", "publisher", "Harbour Press")
    chapter = epub.EpubHtml(title="One", file_name="one.xhtml", lang="en")
    chapter.content = "<h1>One</h1><p>The first night, epub-body-token.</p>"
    book.add_item(chapter)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    path = folder / "described.epub"
    epub.write_epub(str(path), book)
    return path


async def test_an_epub_description_and_subjects_are_in_its_facts_and_at_the_top_of_its_text(tmp_path: Path) -> None:
    _described_epub(tmp_path)
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        facts = (await client.call_tool("document_info", {"source": "described.epub"})).structured_content["facts"]
        text = await _text(client, "described.epub")
    assert facts["description"] == "A keeper's **log** of storms: epub-description-token."
    assert facts["subjects"] == ["Lighthouses", "Rhode Island -- History"] and facts["publisher"] == "Harbour Press"
    assert text.index("epub-description-token") < text.index("epub-body-token")
    assert "Subjects: Lighthouses; Rhode Island -- History" in text and "<p>" not in text
