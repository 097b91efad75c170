"""What hosts rely on: a clean stdout, tool errors instead of crashes, and a second client (the Inspector)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from memento.servers.common.errors import InvalidInput, tool_errors
from tests import docgen
from tests.mcp_servers import http_server, run_inspector

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
    assert names == {"read_document", "document_info", "search_document", "render_pages", "read_cells"}

    call = ("--method", "tools/call", "--tool-name", "read_document", "--tool-arg", "source=memo.docx")
    reply = run_inspector(server, *call, settings=settings, cwd=tmp_path)
    assert "docx-body-token" in reply["content"][0]["text"]


def _abandoning_client(url: str) -> Client:
    """An official client that leaves without ending its session (no DELETE), as a crashed host would."""
    return Client(streamable_http_client(url, terminate_on_close=False), mode="legacy")


def _messages(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return " ".join(_messages(inner) for inner in exc.exceptions)
    return str(exc)


async def _refused_reason(url: str) -> str | None:
    """Why a new session was refused, or None when it opened (and was then abandoned)."""
    try:
        async with _abandoning_client(url) as client:
            await client.list_tools()
    except Exception as exc:
        return _messages(exc)
    return None


@pytest.mark.anyio
@pytest.mark.integration
async def test_http_sessions_are_capped_and_abandoned_ones_are_reaped_when_idle() -> None:
    env = {"MEMENTO_HTTP_MAX_SESSIONS": "4", "MEMENTO_HTTP_SESSION_IDLE_TIMEOUT_S": "1"}
    with http_server("documents", env=env) as url:
        async with AsyncExitStack() as stack:
            # Four live sessions (each holds its event stream open, so none is idle) fill the cap.
            for _ in range(4):
                client = await stack.enter_async_context(_abandoning_client(url))
                assert (await client.list_tools()).tools
            # Over the cap a new session is refused with a clear reason, not queued or served at the others' expense.
            reason = await _refused_reason(url)
            assert reason is not None and "Too many open sessions" in reason
        # The four clients left without ending their sessions; a second after that they are closed and room opens.
        with anyio.fail_after(30):
            while await _refused_reason(url) is not None:
                await anyio.sleep(0.2)


class _RawStdio:
    """A stdio server process driven with raw bytes: what a buggy or hostile client could write."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memento.servers.documents"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, "MEMENTO_LOG_LEVEL": "WARNING", "MEMENTO_DOCUMENTS_ROOTS": str(cwd)},
        )
        self.pending = b""

    def send(self, raw: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(raw)
        self.process.stdin.flush()

    def reply(self, timeout_s: float = 30) -> dict:
        """The next line the server writes, as JSON; fails (instead of hanging) when none comes in time."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no reply within {timeout_s} s"
            chunk = os.read(self.process.stdout.fileno(), 65536)
            assert chunk, "the server closed stdout"
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.mark.integration
def test_lines_that_are_not_json_rpc_get_the_spec_errors_and_the_server_lives_on(tmp_path: Path) -> None:
    server = _RawStdio(tmp_path)
    try:
        server.send(b"this is not json\n")
        parse = server.reply()
        assert parse["jsonrpc"] == "2.0" and parse["id"] is None and parse["error"]["code"] == -32700
        server.send(b'{"jsonrpc": "2.0", "id": 3, "method": "ping"\n')  # cut short
        assert server.reply()["error"]["code"] == -32700
        server.send(b"\xff\xfe\x00garbage\n")
        assert server.reply()["error"]["code"] == -32700

        server.send(b'{"hello": "world"}\n')  # JSON, but no JSON-RPC message
        invalid = server.reply()
        assert invalid["id"] is None and invalid["error"]["code"] == -32600
        server.send(b"[1, 2, 3]\n")
        assert server.reply()["error"]["code"] == -32600
        server.send(b'{"jsonrpc": "2.0", "id": 7, "method": 42}\n')  # the id is readable, so the error names it
        named = server.reply()
        assert named["id"] == 7 and named["error"]["code"] == -32600

        server.send(b"\n   \n")  # blank lines are no messages: nothing to answer
        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        }
        server.send(json.dumps(hello).encode() + b"\n")
        answer = server.reply()
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "memento-documents"
        server.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}\n')
        assert {t["name"] for t in server.reply()["result"]["tools"]} >= {"read_document"}
    finally:
        server.close()
