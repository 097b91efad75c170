"""Shared fixtures: a private MEMENTO_HOME per test, generated documents, running servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import docgen


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def memento_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state directory; nothing touches ~/.memento."""
    home = tmp_path / "memento-home"
    monkeypatch.setenv("MEMENTO_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("MEMENTO_") and key != "MEMENTO_HOME":
            monkeypatch.delenv(key)
    return home


@pytest.fixture(scope="session")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated documents in every format, made once per session."""
    folder = tmp_path_factory.mktemp("docs")
    for make in (
        docgen.make_pdf, docgen.make_long_pdf, docgen.make_encrypted_pdf, docgen.make_scanned_pdf,
        docgen.make_docx, docgen.make_pptx, docgen.make_xlsx, docgen.make_xls, docgen.make_csv, docgen.make_tsv,
        docgen.make_big_csv, docgen.make_html, docgen.make_json, docgen.make_jsonl, docgen.make_xml,
        docgen.make_yaml, docgen.make_text, docgen.make_markdown, docgen.make_code, docgen.make_latin1_text,
        docgen.make_png_with_text, docgen.make_jpeg_with_exif, docgen.make_epub, docgen.make_zip,
        docgen.make_corrupt_pdf, docgen.make_truncated_docx, docgen.make_garbage, docgen.make_mislabelled,
    ):
        make(folder)
    return folder
