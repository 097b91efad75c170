"""The browse server as hosts run it: `python -m memento.servers.browse` over stdio and streamable HTTP.

The servers reach the loopback test site because MEMENTO_ALLOWED_HOSTS names
127.0.0.1; everything else stays behind the URL guard.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from memento.servers.browse.settings import BrowseSettings
from tests.browse_site import ARTICLES, FACTS, Site
from tests.mcp_servers import ROOT, http_client_for, run_inspector, server_env, stdio_client_for
from tests.sysdeps import needs

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TOOLS = {
    "fetch_page",
    "find_in_page",
    "page_links",
    "screenshot",
    "browser_open",
    "browser_snapshot",
    "browser_click",
    "browser_type",
    "browser_back",
    "browser_close",
}
needs_chromium = needs(bool(BrowseSettings().chromium_path), "Chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def env(**extra: str) -> dict[str, str]:
    return {"MEMENTO_ALLOWED_HOSTS": "127.0.0.1", "MEMENTO_BROWSE_PAGE_TIMEOUT_S": "10", "MEMENTO_BROWSE_SETTLE_S": "1", **extra}


def chromium_descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()}


async def test_over_stdio_the_tools_are_listed_and_a_page_is_read_and_cached(site: Site, memento_home: Path) -> None:
    async with stdio_client_for("browse", env()) as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == TOOLS
        assert all(t.description and "Example:" in t.description for t in tools.tools)
        reply = await client.call_tool("fetch_page", {"url": site.url(ARTICLES[0].path)})
        assert not reply.is_error and ARTICLES[0].main[0] in reply.content[0].text
        refused = await client.call_tool("fetch_page", {"url": "http://169.254.169.254/latest/meta-data/"})
        assert refused.is_error and "metadata" in refused.content[0].text
    assert any((memento_home / "cache" / "http").glob("*.body"))


@needs_chromium
async def test_over_http_a_script_page_renders_and_a_session_keeps_its_page(site: Site) -> None:
    async with http_client_for("browse", env()) as client:
        reply = await client.call_tool("fetch_page", {"url": site.url("/js-only")})
        assert not reply.is_error and FACTS[0] in reply.content[0].text
        opened = await client.call_tool("browser_open", {"url": site.url("/form")})
        assert not opened.is_error, opened.content[0].text
        again = await client.call_tool("browser_snapshot", {})
        assert not again.is_error and again.structured_content["url"] == site.url("/form")
        shot = await client.call_tool("screenshot", {"url": site.url("/article/2")})
        assert [c.type for c in shot.content] == ["text", "image"]


@needs_chromium
async def test_no_chromium_process_outlives_the_server(site: Site) -> None:
    before = chromium_descendants()
    async with stdio_client_for("browse", env()) as client:
        reply = await client.call_tool("fetch_page", {"url": site.url("/article/1"), "render": "always"})
        assert not reply.is_error
        await client.call_tool("browser_open", {"url": site.url("/form")})
        assert chromium_descendants() - before
    deadline = time.monotonic() + 30
    while chromium_descendants() - before and time.monotonic() < deadline:
        time.sleep(0.1)  # bounded polling while the processes exit
    assert not chromium_descendants() - before


async def test_without_a_browser_auto_falls_back_to_the_html_and_always_explains(site: Site) -> None:
    async with stdio_client_for("browse", env(MEMENTO_CHROMIUM_PATH="/nonexistent/chromium")) as client:
        reply = await client.call_tool("fetch_page", {"url": site.url("/js-only")})
        assert not reply.is_error and "Rendering was needed" in reply.content[0].text
        reply = await client.call_tool("fetch_page", {"url": site.url("/article/1"), "render": "always"})
        assert reply.is_error and "playwright install chromium" in reply.content[0].text
        reply = await client.call_tool("fetch_page", {"url": site.url("/article/1")})
        assert not reply.is_error


def test_a_bad_setting_stops_the_server_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memento.servers.browse"],
        env={**os.environ, "MEMENTO_BROWSE_MAX_TABS": "none"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "MEMENTO_BROWSE_MAX_TABS" in result.stderr


def inspector(settings: dict[str, str], *args: str) -> dict:
    return run_inspector([sys.executable, "-m", "memento.servers.browse"], *args, settings=settings)


@needs_chromium
def test_the_tools_work_from_the_mcp_inspector_cli(site: Site) -> None:
    settings = server_env(env())
    listed = inspector(settings, "--method", "tools/list")
    assert {tool["name"] for tool in listed["tools"]} == TOOLS
    call = ("--method", "tools/call", "--tool-name")
    page = inspector(
        settings, *call, "fetch_page", "--tool-arg", f"url={site.url(ARTICLES[2].path)}", "--tool-arg", "query=glass checklist"
    )
    assert ARTICLES[2].main[0] in page["content"][0]["text"] and page["structuredContent"]["matching_passages"] >= 1
    opened = inspector(settings, *call, "browser_open", "--tool-arg", f"url={site.url('/form')}")
    assert 'textbox "Your name"' in opened["content"][0]["text"]
