"""The documents MCP server: read PDFs, Office files, spreadsheets, web pages and more as Markdown.

Registers the tools only: `service.py` does the work (over `DocumentReader`),
`present.py` phrases the replies. `memento-documents` and
`python -m memento.servers.documents` start it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from memento.servers.common.runner import serve
from memento.servers.common.tooling import (
    READ_ONLY_OPEN_WORLD,
    MaxLength,
    Probe,
    StartIndex,
    call_inputs,
    lifespan_state,
    server_with_lifespan,
    tool,
)

from . import present
from .present import CellsResult, DocumentInfo, DocumentSearchResult, ReadResult, RenderResult
from .service import DocumentService
from .settings import DocumentsSettings

INSTRUCTIONS = """\
Reads documents as Markdown: PDF, Word, PowerPoint, Excel/CSV, HTML, JSON/XML/YAML, text and code, EPUB,
images (with OCR when available), audio and video (transcribed, with timestamps; video keyframes as images),
e-mail (.eml, Outlook .msg), RSS/Atom feeds, Jupyter notebooks and zip archives. Sources are local paths under the allowed folders,
file:/data: URIs or http(s) URLs. Long documents come in parts: follow the note at the end of each reply.
For long documents, search_document finds the pages that matter before you read them. render_pages shows PDF pages
and slides as images (charts, figures, scans); read_cells gives Excel cells with their colours, fonts and formulas."""

Source = Annotated[
    str,
    Field(
        description="Path under the allowed folders, file:/data: URI, http(s) URL, archive.zip!member/path, "
        "or mail.eml!attachment (also .msg)."
    ),
]


def _service(ctx: Context) -> DocumentService:
    service = lifespan_state(ctx, DocumentService)
    # A host may confine one call to one folder of attachments (an eval task's own): then it is the only root.
    inputs = call_inputs(ctx, service.reader.settings.documents_roots)
    return service if inputs is None else service.within(inputs)


def build(settings: DocumentsSettings) -> MCPServer:
    server = server_with_lifespan("memento-documents", INSTRUCTIONS, lambda: DocumentService.running(settings))

    @tool(server, READ_ONLY_OPEN_WORLD, Probe({"source": "data:text/plain,memento%20servers%20check"}, "memento servers check"))
    async def read_document(
        source: Source,
        ctx: Context,
        start_index: StartIndex = 0,
        max_length: MaxLength = 20_000,
        pages: Annotated[
            str | None,
            Field(
                description='PDF pages, slides, sheets, chapters, feed items or notebook cells to read, 1-based, e.g. "3-5,9" '
                'or "10-"; for audio and video a time range, e.g. "00:30-02:00" or "1:05:00-".'
            ),
        ] = None,
    ) -> Annotated[CallToolResult, ReadResult]:
        """Read a document as Markdown, in parts of at most max_length characters.

        Formats (detected from content, not the file name): PDF (with <!-- page N --> markers), Word .docx,
        PowerPoint .pptx (slides and speaker notes), Excel .xlsx/.xls and CSV/TSV (a table per sheet, long
        sheets cut with a note), HTML, JSON/JSONL/XML/YAML, text/Markdown/source code, EPUB, images (the image
        itself as image content, size, EXIF, OCR text when Tesseract is installed), audio (wav, mp3, m4a, ogg,
        flac, webm: tags and a transcript with a timestamp per segment) and video (mp4, webm, mkv, mov: the
        same plus keyframes at scene changes as images), e-mail .eml/.msg (headers, body, attachments; read
        one as "mail.msg!report.pdf"), RSS/Atom feeds (one part per item), Jupyter notebooks (one part per
        cell, output images as images) and .zip (lists members; read one as "a.zip!dir/file.pdf"). Pictures in Office files are named with their alt text; charts
        come as tables of their numbers. A web page that carries a video (an HTML5 <video>, a video site's page)
        is read as that video: the page's own captions or subtitles when it offers them, else a transcript,
        with keyframes, and `pages` takes a time range; the media is fetched under the same URL and size rules. Images in a reply follow its text, each marked by an
        "<!-- image N: ... -->" line.

        When the reply ends with a note like "[... Call again with start_index=20000 ...]", call again with
        that start_index to read on. Use `pages` to jump to parts of long PDFs, decks or workbooks, and
        search_document to find which pages matter first.

        Example: read_document(source="reports/annual.pdf", pages="1-3")
        """
        return present.read(await _service(ctx).read(source, start_index, max_length, pages))

    @tool(server, READ_ONLY_OPEN_WORLD)
    async def render_pages(
        source: Source,
        ctx: Context,
        pages: Annotated[
            str | None, Field(description='PDF pages or slides to draw, 1-based, e.g. "2" or "1-3"; the first one when left out.')
        ] = None,
    ) -> Annotated[CallToolResult, RenderResult]:
        """Draw PDF pages or PowerPoint slides as images, to look at charts, figures, scans and layout.

        Use it when the text of read_document is not enough: a chart's shape, a diagram, a scanned page,
        which box holds which label. Each image is at most MEMENTO_DOCUMENTS_IMAGE_MAX_PX on its longest
        side; one call draws at most MEMENTO_DOCUMENTS_RENDER_MAX_PAGES pages, and the reply names the rest.
        Slides are a simplified drawing (no office suite): exact text and chart numbers come from read_document.
        An image file comes back as it is, downscaled.

        Example: render_pages(source="reports/annual.pdf", pages="4-5")
        """
        return present.render(await _service(ctx).render(source, pages))

    @tool(server, READ_ONLY_OPEN_WORLD)
    async def read_cells(
        source: Source,
        ctx: Context,
        sheet: Annotated[str | None, Field(description="Sheet name or 1-based number; the first sheet when left out.")] = None,
        range: Annotated[  # the name a spreadsheet user expects
            str | None, Field(description='Cells in A1 notation, e.g. "A1:F30" or "C7"; the sheet\'s used range when left out.')
        ] = None,
    ) -> Annotated[CallToolResult, CellsResult]:
        """Read spreadsheet cells with their formatting: value, formula, number format, font and fill colour, bold/italic, merges, comments, links.

        Use it when a question is about how cells look or are built ("which cells are green", "the bold
        total", "what formula gives D9"); read_document gives only values. Colours come as hex and a plain
        name ("#C6EFCE (light green)"). Empty unformatted cells are left out; at most MEMENTO_DOCUMENTS_MAX_CELLS
        cells per call, and the reply names the range to read next. Excel .xlsx only.

        Example: read_cells(source="data/budget.xlsx", sheet="2024", range="A1:E40")
        """
        return present.cells(await _service(ctx).cells(source, sheet, range))

    @tool(server, READ_ONLY_OPEN_WORLD)
    async def document_info(
        source: Source,
        ctx: Context,
    ) -> Annotated[CallToolResult, DocumentInfo]:
        """Describe a document without reading its text: format, size, pages/sheets/slides, title, author, dates, encryption.

        Cheap; use it to decide how to read a large file (which pages, whether it is encrypted or scanned).
        Example: document_info(source="data/sales.xlsx")
        """
        return present.info(await _service(ctx).info(source))

    @tool(server, READ_ONLY_OPEN_WORLD)
    async def search_document(
        source: Source,
        query: Annotated[str, Field(description="Words or a question to look for.")],
        ctx: Context,
        top_k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 5,
    ) -> Annotated[CallToolResult, DocumentSearchResult]:
        """Find the passages of a long document most relevant to a query, each with its page, slide or sheet.

        Ranks paragraphs by keyword relevance (BM25), so a model can read the few pages that matter instead
        of the whole file; then read_document with pages="N" reads around a hit.
        Example: search_document(source="thesis.pdf", query="sample size of the survey", top_k=3)
        """
        return present.search(await _service(ctx).search(source, query, top_k))

    return server


def main(argv: Sequence[str] | None = None) -> int:
    return serve("documents", DocumentsSettings, build, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
