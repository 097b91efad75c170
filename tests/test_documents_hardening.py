"""The documents server under hostile local files: named pipes, zip members that expand a lot, huge echoed input.

Each test drives a real server process over stdio, as a host would, and bounds
every wait so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import anyio
import psutil
import pytest

from memento.servers.common.errors import InvalidInput
from memento.servers.documents.sources import read_local
from tests import docgen
from tests.mcp_servers import stdio_client_for

pytestmark = [pytest.mark.anyio]


def _server_process() -> psutil.Process:
    """The documents server this test started (a direct child; its conversion workers are its own children)."""
    found = [p for p in psutil.Process().children() if "memento.servers.documents" in " ".join(p.cmdline())]
    assert len(found) == 1, found
    return found[0]


def _peak_rss(process: psutil.Process) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM line")


@pytest.mark.integration
async def test_a_named_pipe_is_refused_at_once_and_the_server_keeps_answering(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    docgen.make_text(tmp_path)
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        # Before the fix, opening the pipe waited for a writer inside the event loop: nothing answered again.
        with anyio.fail_after(20):
            refused = await client.call_tool("read_document", {"source": "pipe.txt"})
            assert refused.is_error and "not a regular file" in refused.content[0].text
            info = await client.call_tool("document_info", {"source": "pipe.txt"})
            assert info.is_error and "named pipe" in info.content[0].text
            fine = await client.call_tool("read_document", {"source": "notes.txt"})
            assert not fine.is_error and "text-token" in fine.content[0].text


def test_reading_a_pipe_never_waits_for_a_writer(tmp_path: Path) -> None:
    # Run on a thread: were the open to block, the test would still end (and free it by opening the writing end).
    pipe = tmp_path / "late.txt"
    os.mkfifo(pipe)
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            read_local(pipe, str(pipe), limit=1024)
            outcome.append(None)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # let the stuck open return before failing
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a named pipe waited for a writer")
    assert isinstance(outcome[0], InvalidInput) and "named pipe" in str(outcome[0])


@pytest.mark.integration
async def test_a_zip_member_is_expanded_in_the_worker_not_in_the_server(tmp_path: Path) -> None:
    # 150 MB of zeros deflate to about 150 KB: the member is unreadable binary, so the worker answers fast.
    docgen.make_zip_bomb(tmp_path, name="zeros.zip", size=150 * 1024**2)
    docgen.make_text(tmp_path)
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        await client.call_tool("read_document", {"source": "notes.txt"})  # the server is up and warm
        server = _server_process()
        before = _peak_rss(server)
        with anyio.fail_after(60):
            result = await client.call_tool("read_document", {"source": "zeros.zip!zeros.bin"})
        assert result.is_error and "Unrecognised content" in result.content[0].text
        grown = _peak_rss(server) - before
    # Expanded in the server, the member alone would raise its peak by 150 MB (and pickling it for the worker by as much again).
    assert grown < 30 * 1024**2, f"the server's peak memory grew by {grown / 1024**2:.0f} MiB"


@pytest.mark.integration
async def test_zip_members_still_read_with_their_own_names_and_sizes(tmp_path: Path) -> None:
    inner = docgen.make_zip(tmp_path, name="inner.zip")
    docgen.make_zip(tmp_path, name="outer.zip", members={"nested/inner.zip": inner.read_bytes(), "a.txt": b"alpha-token\n"})
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        nested = await client.call_tool("read_document", {"source": "outer.zip!nested/inner.zip!docs/readme.txt"})
        assert not nested.is_error and "zip-member-token" in nested.content[0].text
        assert nested.structured_content["source"].endswith("outer.zip!nested/inner.zip!docs/readme.txt")
        again = await client.call_tool("read_document", {"source": "outer.zip!nested/inner.zip!docs/readme.txt"})
        assert again.content[0].text == nested.content[0].text  # from the cache, same reply
        info = await client.call_tool("document_info", {"source": "outer.zip!a.txt"})
        facts = info.structured_content["facts"]
        assert facts["name"] == "a.txt" and facts["size_bytes"] == len(b"alpha-token\n") and facts["format"] == "text"
        missing = await client.call_tool("read_document", {"source": "outer.zip!nope.txt"})
        assert missing.is_error and "has no member" in missing.content[0].text


@pytest.mark.integration
async def test_search_document_does_not_echo_a_huge_query(tmp_path: Path) -> None:
    docgen.make_text(tmp_path)
    query = "zebra " * 200_000  # 1.2 MB of a word the text does not hold
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        result = await client.call_tool("search_document", {"source": "notes.txt", "query": query})
        text = result.content[0].text
        assert len(text) < 2_000, f"the reply is {len(text):,} characters"
        assert "zebra" in text  # the start of the query is still shown, so the model knows what it asked


@pytest.mark.integration
async def test_a_huge_source_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    docgen.make_zip(tmp_path)
    docgen.make_pdf(tmp_path)
    sources = ("missing/" + "x" * 100_000 + ".pdf", "ftp" + "p" * 100_000 + "://host/x", "bundle.zip!" + "m" * 100_000)
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        for source in sources:
            result = await client.call_tool("read_document", {"source": source})
            assert result.is_error and len(result.content[0].text) < 2_000, result.content[0].text[:200]
        for pages in ("9" * 100_000, "x" * 100_000):
            result = await client.call_tool("read_document", {"source": "report.pdf", "pages": pages})
            assert result.is_error and len(result.content[0].text) < 2_000, result.content[0].text[:200]


@pytest.mark.integration
async def test_an_unknown_tool_with_a_huge_name_is_not_echoed(tmp_path: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        result = await client.call_tool("read_" + "x" * 500_000, {})
        assert result.is_error and "Unknown tool" in result.content[0].text
        assert len(result.content[0].text) < 5_000, f"the reply is {len(result.content[0].text):,} characters"
