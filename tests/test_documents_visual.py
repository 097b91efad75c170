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
