"""Shared fixtures: a private MEMENTO_HOME per test, generated documents, running servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from memento.agent.llm import vendors as llm_vendors
from tests import docgen
from tests.fake_llm import FakeAnthropic, FakeOpenAI
from tests.search_fakes import FakeVendors


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
        docgen.make_pdf,
        docgen.make_long_pdf,
        docgen.make_encrypted_pdf,
        docgen.make_scanned_pdf,
        docgen.make_docx,
        docgen.make_pptx,
        docgen.make_xlsx,
        docgen.make_xls,
        docgen.make_csv,
        docgen.make_tsv,
        docgen.make_big_csv,
        docgen.make_html,
        docgen.make_json,
        docgen.make_jsonl,
        docgen.make_xml,
        docgen.make_yaml,
        docgen.make_text,
        docgen.make_markdown,
        docgen.make_code,
        docgen.make_latin1_text,
        docgen.make_png_with_text,
        docgen.make_jpeg_with_exif,
        docgen.make_epub,
        docgen.make_zip,
        docgen.make_corrupt_pdf,
        docgen.make_truncated_docx,
        docgen.make_garbage,
        docgen.make_mislabelled,
    ):
        make(folder)
    return folder


@pytest.fixture(autouse=True)
def no_duckduckgo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches DuckDuckGo: any path that would fails the test instead.

    The server turns a backend's exception into a failed attempt, so the attempt is also recorded here
    and checked when the test ends.
    """
    tried: list[float] = []

    def refuse(timeout_s: float) -> None:
        tried.append(timeout_s)
        raise AssertionError("a test tried to reach DuckDuckGo; stub memento.servers.search.backends.ddg.make_client")

    monkeypatch.setattr("memento.servers.search.backends.ddg.make_client", refuse)
    yield
    assert not tried, "a test tried to reach DuckDuckGo"


# The search tests' fake vendors: one server per module, reset for each test.
@pytest.fixture(scope="module")
def vendors() -> Iterator[FakeVendors]:
    with FakeVendors() as fake:
        yield fake


@pytest.fixture
def fake(vendors: FakeVendors) -> FakeVendors:
    vendors.reset()
    return vendors


# Port 9 (discard) on loopback: nothing listens, so a stray model call is refused at once.
CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def no_vendor_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real model vendor: every ANTHROPIC_* and OPENAI_* variable is gone for the test,
    and a model made without a base URL goes to a closed loopback port instead of the vendor."""
    for key in list(os.environ):
        if key.startswith(("ANTHROPIC_", "OPENAI_")):
            monkeypatch.delenv(key)
    for provider in llm_vendors.BUILT_IN:
        monkeypatch.setattr(provider, "default_url", CLOSED_PORT)


# The model providers' fake vendors: a fresh server per test, stopped when it ends.
@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake
