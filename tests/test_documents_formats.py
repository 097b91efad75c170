"""Every supported format, read through the official MCP client over stdio and streamable HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.mcp_servers import http_client_for, stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# (file, detected format, text that must appear, text that must not appear)
VECTORS = [
    ("report.pdf", "pdf", ["pdf-page-1-token", "pdf-page-3-token", "<!-- page 2 of 3 -->"], []),
    ("memo.docx", "docx", ["# Project Memo", "docx-body-token", "- docx-list-token", "docx-cell-token", "|"], []),
    ("deck.pptx", "pptx", ["<!-- slide 1 of 3 -->", "# Slide 2 title", "pptx-slide-3-token", "pptx-notes-token", "pptx-table-token"], []),
    ("book.xlsx", "xlsx", ["## Sheet 1: Sales", "| Region |", "xlsx-cell-token", "## Sheet 2: Notes", "xlsx-sheet2-token"], []),
    ("old.xls", "xls", ["## Sheet 1: Legacy", "xls-cell-token"], []),
    ("data.csv", "csv", ["| id | name | value |", "csv-cell-token"], []),
    ("data.tsv", "tsv", ["tsv-cell-token", "|---|"], []),
    ("page.html", "html", ["# HTML Title", "html-body-token", "html-table-token"], ["script-should-not-appear", "style-should-not-appear"]),
    ("data.json", "json", ["```json", "json-token"], []),
    ("data.jsonl", "jsonl", ["```jsonl", "jsonl-token"], []),
    ("data.xml", "xml", ["```xml", "xml-token"], []),
    ("config.yaml", "yaml", ["```yaml", "yaml-token"], []),
    ("notes.txt", "text", ["text-token"], []),
    ("readme.md", "markdown", ["# Heading", "md-token"], []),
    ("script.py", "code", ["```python", "def code_token():"], []),
    ("latin1.txt", "text", ["café déjà vu", "latin1-token"], ["\ufffd"]),
    ("photo.jpg", "image", ["JPEG", "Make: TestCam", "Model: Model-X", "2024:05:06 07:08:09"], []),
    ("sign.png", "image", ["PNG", "800x200", "HELLO OCR 42"], []),
    ("book.epub", "epub", ["<!-- chapter 1", "epub-ch1-token", "<!-- chapter 2", "epub-ch2-token"], []),
    ("bundle.zip", "zip", ["docs/readme.txt", "docs/report.pdf", "bundle.zip!"], []),
    ("bundle.zip!docs/readme.txt", "text", ["zip-member-token"], []),
    ("bundle.zip!docs/report.pdf", "pdf", ["pdf-page-2-token"], []),
    ("actually_pdf.docx", "pdf", ["pdf-page-1-token"], []),  # mislabelled: content wins
]


async def _read_all(client, source: str) -> tuple[str, dict]:
    result = await client.call_tool("read_document", {"source": source, "max_length": 1_000_000})
    assert not result.is_error, result.content[0].text
    return result.content[0].text, result.structured_content


@pytest.fixture(params=["stdio", "http"])
async def client(request, docs: Path):
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(docs)}
    opener = stdio_client_for if request.param == "stdio" else http_client_for
    async with opener("documents", env=env, cwd=docs) as connected:
        yield connected


async def test_every_format_reads_as_markdown_with_its_content(client) -> None:
    failures = []
    for source, fmt, must, must_not in VECTORS:
        text, structured = await _read_all(client, source)
        if structured["format"] != fmt:
            failures.append(f"{source}: detected {structured['format']}, expected {fmt}")
        failures += [f"{source}: missing {m!r}" for m in must if m not in text]
        failures += [f"{source}: should not contain {m!r}" for m in must_not if m in text]
    assert not failures, "\n".join(failures)


async def test_pdf_pages_select_only_those_pages(client) -> None:
    text, structured = await _read_all_pages(client, "long.pdf", "3-5,9")
    found = sorted(int(n) for n in re.findall(r"longpdf-page-(\d+)\b", text))
    assert found == [3, 4, 5, 9]
    assert "<!-- page 3 of 100 -->" in text
    assert structured["metadata"]["pages"] == 100


async def _read_all_pages(client, source: str, pages: str):
    result = await client.call_tool("read_document", {"source": source, "pages": pages, "max_length": 1_000_000})
    assert not result.is_error, result.content[0].text
    return result.content[0].text, result.structured_content


async def test_slides_and_sheets_are_selectable_like_pages(client) -> None:
    text, _ = await _read_all_pages(client, "deck.pptx", "2")
    assert "pptx-slide-2-token" in text and "pptx-slide-1-token" not in text
    text, _ = await _read_all_pages(client, "book.xlsx", "2")
    assert "xlsx-sheet2-token" in text and "xlsx-cell-token" not in text


async def test_document_info_reports_facts_without_reading_text(client) -> None:
    expectations = {
        "report.pdf": {"format": "pdf", "pages": 3, "title": "Quarterly Report", "author": "Ada Lovelace", "encrypted": False},
        "secret.pdf": {"format": "pdf", "encrypted": True},
        "memo.docx": {"format": "docx", "title": "Project Memo", "author": "Grace Hopper"},
        "deck.pptx": {"format": "pptx", "slides": 3},
        "book.xlsx": {"format": "xlsx", "sheets": 2, "sheet_names": ["Sales", "Notes"]},
        "book.epub": {"format": "epub", "title": "Tiny Book", "author": "Mary Shelley", "chapters": 2},
        "photo.jpg": {"format": "image", "width": 640},
    }
    for source, expected in expectations.items():
        result = await client.call_tool("document_info", {"source": source})
        assert not result.is_error, result.content[0].text
        facts = result.structured_content["facts"]
        for key, value in expected.items():
            if key == "width":
                assert isinstance(facts[key], int) and facts[key] > 0
            else:
                assert facts.get(key) == value, f"{source}: {key}={facts.get(key)!r}, expected {value!r}"
        assert facts["size_bytes"] > 0


async def test_long_sheets_are_cut_with_a_note_saying_how_many_rows_were_left_out(client) -> None:
    text, _structured = await _read_all(client, "big.csv")
    assert "bigcsv-first-token" in text
    assert "bigcsv-last-token" not in text
    assert re.search(r"more rows not shown", text)
    assert "5001" in text or "4000" in text  # the note counts what was cut


async def test_scanned_pdf_says_its_pages_have_no_text_layer(client) -> None:
    text, _ = await _read_all(client, "scan.pdf")
    assert "no text layer" in text


async def test_search_document_points_at_the_page_that_answers(client) -> None:
    result = await client.call_tool("search_document", {"source": "long.pdf", "query": "longpdf-page-42", "top_k": 3})
    assert not result.is_error, result.content[0].text
    passages = result.structured_content["passages"]
    assert passages and passages[0]["location"] == "page 42"
    assert "longpdf-page-42" in passages[0]["text"]
