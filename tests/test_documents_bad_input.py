"""Bad input gives a clear tool error and leaves the server alive; hostile files stay contained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import docgen
from tests.mcp_servers import stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root folder with hostile files, plus a secret file outside it and links pointing there."""
    base = tmp_path_factory.mktemp("bad")
    root = base / "root"
    root.mkdir()
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside-secret-token")
    os.symlink(outside / "secret.txt", root / "link_out.txt")
    os.symlink(outside, root / "dir_link")
    docgen.make_zip_bomb(root, size=2 * 1024**3)
    docgen.make_many_member_zip(root, count=20_000)
    docgen.make_sparse_file(root, size=1024**3)
    docgen.make_encrypted_pdf(root)
    docgen.make_corrupt_pdf(root)
    docgen.make_truncated_docx(root)
    docgen.make_garbage(root)
    docgen.make_text(root)
    docgen.make_zip(root)
    (root / "empty.txt").write_bytes(b"")
    (root / "sub").mkdir()
    return root


async def _error(client, tool: str, **arguments) -> str:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text
    assert result.is_error, f"expected an error, got: {text[:300]}"
    assert "Traceback" not in text
    return text


async def _still_alive(client) -> None:
    result = await client.call_tool("read_document", {"source": "notes.txt"})
    assert not result.is_error and "text-token" in result.content[0].text


async def test_bad_sources_are_clear_errors_and_the_server_lives_on(bad: Path) -> None:
    cases = {
        "missing.pdf": "No such file",
        "../outside/secret.txt": "outside the folders",
        str(bad.parent / "outside" / "secret.txt"): "outside the folders",
        "link_out.txt": "outside the folders",  # a symlink out of the root
        "dir_link/secret.txt": "outside the folders",
        "sub": "is a folder",
        "ftp://example.com/file.pdf": "Unsupported source scheme",
        "data:text/plain;base64": "Malformed data: URI",
        "": "source is empty",
        "http://127.0.0.1:1/private.pdf": "loopback",
        "http://169.254.169.254/latest/meta-data/": "metadata",
        "http://[::1]/x": "loopback",
        "bundle.zip!docs/nothing.txt": "has no member",
    }
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(bad)}, cwd=bad) as client:
        for source, expected in cases.items():
            text = await _error(client, "read_document", source=source)
            assert expected in text, f"{source!r}: {text}"
            assert "outside-secret-token" not in text
        await _still_alive(client)


async def test_hostile_and_broken_files_are_refused_with_reasons(bad: Path) -> None:
    cases = {
        "bomb.zip": "zip bomb",
        "many.zip": "members, over the limit",
        "huge.txt": "over the",
        "secret.pdf": "encrypted",
        "corrupt.pdf": "damaged",
        "truncated.docx": "not a readable zip",
        "blob.bin": "Unrecognised content",
    }
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(bad)}, cwd=bad) as client:
        for source, expected in cases.items():
            text = await _error(client, "read_document", source=source)
            assert expected in text, f"{source!r}: {text}"
            await _still_alive(client)


async def test_a_huge_file_is_refused_by_size_before_it_is_read(bad: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(bad)}, cwd=bad) as client:
        text = await _error(client, "read_document", source="huge.txt")
        assert "1,073,741,824 bytes" in text and "was not read" in text


async def test_bad_arguments_are_explained(bad: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(bad)}, cwd=bad) as client:
        docgen.make_pdf(bad, pages=3)
        assert "has 3 pages" in await _error(client, "read_document", source="report.pdf", pages="7")
        assert "Malformed pages" in await _error(client, "read_document", source="report.pdf", pages="two")
        assert "no such parts" in await _error(client, "read_document", source="notes.txt", pages="1")
        assert "past the end" in await _error(client, "read_document", source="notes.txt", start_index=10_000)
        assert "query is empty" in await _error(client, "search_document", source="notes.txt", query="  ")
        await _still_alive(client)


async def test_an_empty_file_reads_as_empty_text(bad: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(bad)}, cwd=bad) as client:
        result = await client.call_tool("read_document", {"source": "empty.txt"})
        assert not result.is_error
        assert result.structured_content["page"]["total_length"] <= 1


async def test_a_conversion_that_runs_too_long_is_stopped_and_the_next_one_works(tmp_path: Path) -> None:
    # 6 million CSV rows take seconds to parse; the limit is half a second.
    with (tmp_path / "slow.csv").open("w") as handle:
        handle.write("a,b,c\n" * 6_000_000)
    docgen.make_text(tmp_path)
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path), "MEMENTO_DOCUMENTS_TIMEOUT_S": "0.5"}
    async with stdio_client_for("documents", env=env, cwd=tmp_path) as client:
        text = await _error(client, "read_document", source="slow.csv")
        assert "longer than 0.5 s" in text
        await _still_alive(client)


async def test_a_conversion_that_eats_memory_is_stopped_and_the_next_one_works(tmp_path: Path) -> None:
    # 120 MB of text needs far more than a 256 MiB address space once decoded and formatted.
    with (tmp_path / "big.txt").open("w") as handle:
        line = "memory hog line of text " * 4 + "\n"
        handle.write(line * (120_000_000 // len(line)))
    docgen.make_text(tmp_path)
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path), "MEMENTO_DOCUMENTS_MEMORY_LIMIT": "256MiB"}
    async with stdio_client_for("documents", env=env, cwd=tmp_path) as client:
        text = await _error(client, "read_document", source="big.txt")
        assert "memory" in text
        await _still_alive(client)


async def test_a_bad_setting_stops_the_server_with_the_variable_named(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "memento.servers.documents"],
        env={**os.environ, "MEMENTO_DOCUMENTS_TIMEOUT_S": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "MEMENTO_DOCUMENTS_TIMEOUT_S='soon' is not valid" in done.stderr
    assert done.stdout == ""
