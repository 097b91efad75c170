"""Units of the documents server that need no process: detection, page ranges, passages, the cache."""

from __future__ import annotations

import pytest

from memento.convert.detect import detect_format
from memento.convert.model import Document, Section
from memento.convert.passages import rank_passages
from memento.servers.common.errors import InvalidInput
from memento.servers.documents.cache import DocumentCache
from memento.servers.documents.reader import parse_pages


@pytest.mark.parametrize(
    ("head", "name", "members", "expected"),
    [
        (b"%PDF-1.7\n...", "x.docx", None, "pdf"),
        (b"PK\x03\x04", "x.zip", ["[Content_Types].xml", "word/document.xml"], "docx"),
        (b"PK\x03\x04", "x.bin", ["[Content_Types].xml", "ppt/presentation.xml"], "pptx"),
        (b"PK\x03\x04", "x", ["[Content_Types].xml", "xl/workbook.xml"], "xlsx"),
        (b"PK\x03\x04", "x.zip", ["mimetype", "OEBPS/content.opf"], "epub"),
        (b"PK\x03\x04", "x.docx", ["a.txt"], "zip"),
        (b"\x89PNG\r\n\x1a\n....", "x.pdf", None, "image"),
        (b"<!DOCTYPE html><html>", "x.txt", None, "html"),
        (b'<?xml version="1.0"?><root/>', "x", None, "xml"),
        (b'{"a": 1}', "x.txt", None, "json"),
        (b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', "x", None, "jsonl"),
        (b"a,b\n1,2\n", "x.csv", None, "csv"),
        (b"key: value\n", "x.yml", None, "yaml"),
        (b"print(1)\n", "x.py", None, "code"),
        (b"just words\n", "x.pdf", None, "text"),  # a text file named .pdf is text
        (bytes(range(256)) * 4, "x.txt", None, "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "x.doc", None, "ole"),
    ],
)
def test_formats_are_detected_from_content(head: bytes, name: str, members, expected: str) -> None:
    assert detect_format(head, name, members) == expected


def _paged(n: int, kind: str = "page") -> Document:
    return Document("pdf", [Section(f"text {i}", kind, i) for i in range(1, n + 1)])


@pytest.mark.parametrize(("spec", "expected"), [("3-5,9", [3, 4, 5, 9]), ("8-", [8, 9, 10]), ("2,2,1", [1, 2]), ("9-20", [9, 10])])
def test_page_ranges_are_parsed_and_clipped(spec: str, expected: list[int]) -> None:
    assert parse_pages(spec, _paged(10)) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [("11", "has 10 pages"), ("5-3", "low to high"), ("0", "starting at 1"), ("a", "Malformed"), (",", "selects nothing")],
)
def test_bad_page_ranges_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_pages(spec, _paged(10))


def test_passages_are_ranked_by_relevance_and_keep_their_location() -> None:
    document = Document(
        "pdf",
        [
            Section("The weather was mild. Nothing about money here.", "page", 1),
            Section("Revenue grew 12 percent; revenue from services doubled.", "page", 2),
            Section("A footnote mentions revenue once.", "page", 3),
        ],
    )
    passages = rank_passages(document, "services revenue", top_k=2)
    assert [p.location for p in passages] == ["page 2", "page 3"]
    assert rank_passages(document, "zebra") == []


def test_the_cache_evicts_the_least_recently_used_entry_when_full() -> None:
    cache = DocumentCache(max_bytes=3 * (2 * 100 + 1024))
    for key in "abc":
        cache.put(key, Document("text", [Section("x" * 100)]))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", Document("text", [Section("x" * 100)]))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("d") is not None
