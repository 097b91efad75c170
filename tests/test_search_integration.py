"""The search server as hosts run it: over stdio and streamable HTTP, and from the MCP Inspector CLI.

The server is a real process; the vendors it calls are the fakes on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mcp_servers import http_client_for, run_inspector, server_env, stdio_client_for
from tests.search_fakes import FakeVendors, server_error

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeVendors]:
    with FakeVendors() as vendors:
        yield vendors


async def test_over_stdio_a_failing_backend_falls_back_and_the_tools_are_listed(fake: FakeVendors) -> None:
    fake.script("brave", server_error("brave"), server_error("brave"))
    async with stdio_client_for("search", env=fake.env(["brave", "serper"])) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"web_search", "search_many", "list_search_backends"}  # no index: no search_local
        result = await client.call_tool("web_search", {"query": "rivers", "max_results": 2})
    assert not result.is_error, result.content[0].text
    assert [a["backend"] for a in result.structured_content["attempts"]] == ["brave", "serper"]
    assert "Note: brave failed" in result.content[0].text and "HTTP 500" in result.content[0].text


async def test_over_streamable_http_search_many_merges_parallel_queries(fake: FakeVendors) -> None:
    async with http_client_for("search", env=fake.env(["tavily"])) as client:
        result = await client.call_tool("search_many", {"queries": ["rivers", "harbours"], "max_results": 3})
    assert not result.is_error, result.content[0].text
    assert len(result.structured_content["results"]) == 3
    assert len(fake.requests("tavily")) == 2


async def test_a_bad_setting_stops_the_server_with_the_variable_named() -> None:
    env = {**os.environ, **server_env({"MEMENTO_SEARCH_BACKENDS": "brave"})}
    done = subprocess.run(
        [sys.executable, "-m", "memento.servers.search"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and "MEMENTO_BRAVE_API_KEY" in done.stderr


def _inspector(env: dict[str, str], *args: str) -> dict:
    return run_inspector([sys.executable, "-m", "memento.servers.search"], *args, settings=env)


def test_the_tools_work_from_the_mcp_inspector_cli(fake: FakeVendors) -> None:
    env = server_env(fake.env(["serper", "local"]))  # `local` named: search_local is offered even before an index exists

    listed = _inspector(env, "--method", "tools/list")
    assert {t["name"] for t in listed["tools"]} == {"web_search", "search_many", "search_local", "list_search_backends"}
    call = ["--method", "tools/call", "--tool-name"]
    web = _inspector(env, *call, "web_search", "--tool-arg", "query=rivers in winter", "--tool-arg", "max_results=2")
    assert "Rivers in winter" in web["content"][0]["text"] and "from serper" in web["content"][0]["text"]
    many = _inspector(env, *call, "search_many", "--tool-arg", 'queries=["rivers", "harbour"]')
    assert "found by q1, q2" in many["content"][0]["text"]
