"""What hosts rely on: a clean stdout, tool errors instead of crashes, and a second client (the Inspector)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from memento.servers.common.errors import InvalidInput, tool_errors
from tests import docgen
from tests.mcp_servers import run_inspector

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.anyio
async def test_a_failing_tool_is_an_error_result_not_a_crash() -> None:
    server = MCPServer("t")

    @server.tool()
    @tool_errors
    def expected_failure(x: int) -> str:
        """Fails the way a model can fix."""
        raise InvalidInput(f"x must be even, got {x}")

    @server.tool()
    @tool_errors
    def unexpected_failure() -> str:
        """Fails the way nobody planned."""
        return {}["missing"]

    @server.tool()
    @tool_errors
    def fine() -> str:
        """Works."""
        return "still here"

    async with Client(server) as client:
        first = await client.call_tool("expected_failure", {"x": 3})
        assert first.is_error and "x must be even, got 3" in first.content[0].text
        second = await client.call_tool("unexpected_failure", {})
        assert second.is_error and "KeyError" in second.content[0].text and "still running" in second.content[0].text
        assert "Traceback" not in second.content[0].text
        third = await client.call_tool("fine", {})
        assert not third.is_error and third.content[0].text == "still here"


@pytest.mark.integration
def test_a_stdio_server_writes_only_protocol_messages_to_stdout(tmp_path: Path) -> None:
    docgen.make_pdf(tmp_path)
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "read_document", "arguments": {"source": "report.pdf"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "read_document", "arguments": {"source": "missing.pdf"}}},
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "memento.servers.documents"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "MEMENTO_LOG_LEVEL": "DEBUG", "MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)},
    )
    replies = []
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
        process.stdin.flush()
        deadline = time.monotonic() + 120
        pending = b""
        while len([r for r in replies if "id" in r]) < 3:
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no reply within 120 s; got {replies}"
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, "the server closed stdout early"
            *lines, pending = (pending + chunk).split(b"\n")
            replies += [json.loads(line) for line in lines if line.strip()]  # every line must be JSON-RPC
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
    assert all(r.get("jsonrpc") == "2.0" for r in replies)
    by_id = {r["id"]: r for r in replies if "id" in r}
    assert "pdf-page-1-token" in by_id[2]["result"]["content"][0]["text"]
    assert by_id[3]["result"]["isError"] is True


@pytest.mark.integration
def test_the_mcp_inspector_cli_lists_and_calls_the_tools(tmp_path: Path) -> None:
    docgen.make_docx(tmp_path)
    server = [shutil.which("memento-documents") or str(Path(sys.executable).parent / "memento-documents")]
    settings = {"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}

    listed = run_inspector(server, "--method", "tools/list", settings=settings, cwd=tmp_path)
    names = {tool["name"] for tool in listed["tools"]}
    assert names == {"read_document", "document_info", "search_document"}

    call = ("--method", "tools/call", "--tool-name", "read_document", "--tool-arg", "source=memo.docx")
    reply = run_inspector(server, *call, settings=settings, cwd=tmp_path)
    assert "docx-body-token" in reply["content"][0]["text"]
