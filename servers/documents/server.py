"""The documents MCP server: read PDFs, Office files, spreadsheets, web pages and more as Markdown.

Registers three tools over `DocumentReader`; the work lives in the modules
beside this one. `memento-documents` and `python -m memento.servers.documents` start it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from memento.servers.common.errors import tool_errors
from memento.servers.common.paging import Page
from memento.servers.common.runner import serve

from .reader import DocumentReader
from .settings import DocumentsSettings

INSTRUCTIONS = """\
Reads documents as Markdown: PDF, Word, PowerPoint, Excel/CSV, HTML, JSON/XML/YAML, text and code, EPUB,
images (with OCR when available) and zip archives. Sources are local paths under the allowed folders,
file:/data: URIs or http(s) URLs. Long documents come in parts: follow the note at the end of each reply.
For long documents, search_document finds the pages that matter before you read them."""

READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=True, idempotentHint=True)


@dataclass
class State:
    reader: DocumentReader


class ReadResult(BaseModel):
    source: str = Field(description="Where the document came from.")
    format: str = Field(description="Detected format, e.g. pdf, docx, xlsx, html.")
    page: Page
    metadata: dict[str, Any] = Field(description="Title, author, dates, page counts… when known.")


class DocumentInfo(BaseModel):
    facts: dict[str, Any] = Field(description="Format, size, parts, title, author, dates, encryption.")


class Hit(BaseModel):
    location: str = Field(description="Where the passage is: 'page 12', 'slide 3', 'sheet 2 (Sales)', 'text'.")
    score: float
    text: str


class SearchResult(BaseModel):
    source: str
    passages: list[Hit]


def _reader(ctx: Context) -> DocumentReader:
    return ctx.request_context.lifespan_context.reader


def build(settings: DocumentsSettings) -> MCPServer:
    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[State]:
        reader = DocumentReader(settings)
        # Start one worker in the background so the first conversion does not wait for it.
        threading.Thread(target=reader.pool.warm, name="warm-worker", daemon=True).start()
        try:
            yield State(reader)
        finally:
            reader.close()

    server = MCPServer("memento-documents", instructions=INSTRUCTIONS, lifespan=lifespan)

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    async def read_document(
        source: Annotated[
            str, Field(description="Path under the allowed folders, file:/data: URI, http(s) URL, or archive.zip!member/path.")
        ],
        ctx: Context,
        start_index: Annotated[int, Field(ge=0, description="Character offset to start at; use the value the previous reply names.")] = 0,
        max_length: Annotated[int, Field(ge=100, le=1_000_000, description="Most characters to return in this reply.")] = 20_000,
        pages: Annotated[
            str | None, Field(description='PDF pages, slides, sheets or chapters to read, 1-based, e.g. "3-5,9" or "10-".')
        ] = None,
    ) -> Annotated[CallToolResult, ReadResult]:
        """Read a document as Markdown, in parts of at most max_length characters.

        Formats (detected from content, not the file name): PDF (with <!-- page N --> markers), Word .docx,
        PowerPoint .pptx (slides and speaker notes), Excel .xlsx/.xls and CSV/TSV (a table per sheet, long
        sheets cut with a note), HTML, JSON/JSONL/XML/YAML, text/Markdown/source code, EPUB, images (size,
        EXIF, OCR text when Tesseract is installed) and .zip (lists members; read one as "a.zip!dir/file.pdf").

        When the reply ends with a note like "[... Call again with start_index=20000 ...]", call again with
        that start_index to read on. Use `pages` to jump to parts of long PDFs, decks or workbooks, and
        search_document to find which pages matter first.

        Example: read_document(source="reports/annual.pdf", pages="1-3")
        """
        opened, page = await _reader(ctx).read(source, start_index, max_length, pages)
        document = opened.document
        header = f"[{opened.loaded.name} · {document.format} · {_parts(document.metadata)}{page.total_length:,} characters]"
        result = ReadResult(source=opened.loaded.origin, format=document.format, page=page, metadata=document.metadata)
        return CallToolResult(
            content=[TextContent(type="text", text=f"{header}\n\n{page.render()}")],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    async def document_info(
        source: Annotated[
            str, Field(description="Path under the allowed folders, file:/data: URI, http(s) URL, or archive.zip!member/path.")
        ],
        ctx: Context,
    ) -> Annotated[CallToolResult, DocumentInfo]:
        """Describe a document without reading its text: format, size, pages/sheets/slides, title, author, dates, encryption.

        Cheap; use it to decide how to read a large file (which pages, whether it is encrypted or scanned).
        Example: document_info(source="data/sales.xlsx")
        """
        _, facts = await _reader(ctx).info(source)
        lines = [f"- {key}: {_short(value)}" for key, value in facts.items()]
        return CallToolResult(
            content=[TextContent(type="text", text="\n".join(lines))],
            structured_content=DocumentInfo(facts=facts).model_dump(mode="json"),
        )

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    async def search_document(
        source: Annotated[
            str, Field(description="Path under the allowed folders, file:/data: URI, http(s) URL, or archive.zip!member/path.")
        ],
        query: Annotated[str, Field(description="Words or a question to look for.")],
        ctx: Context,
        top_k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 5,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Find the passages of a long document most relevant to a query, each with its page, slide or sheet.

        Ranks paragraphs by keyword relevance (BM25), so a model can read the few pages that matter instead
        of the whole file; then read_document with pages="N" reads around a hit.
        Example: search_document(source="thesis.pdf", query="sample size of the survey", top_k=3)
        """
        opened, passages = await _reader(ctx).search(source, query, top_k)
        hits = [Hit(location=p.location, score=p.score, text=p.text) for p in passages]
        if hits:
            text = "\n\n".join(f"## {h.location} (score {h.score})\n{h.text}" for h in hits)
        else:
            text = f"No passage of {opened.loaded.name} matches {query!r}. Try other words or read the document."
        result = SearchResult(source=opened.loaded.origin, passages=hits)
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=result.model_dump(mode="json"))

    return server


def _parts(metadata: dict[str, Any]) -> str:
    for key in ("pages", "slides", "sheets", "chapters"):
        if key in metadata:
            return f"{metadata[key]} {key} · "
    return ""


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) < 300 else text[:299] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    return serve("documents", DocumentsSettings, build, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
