"""Rendering, screenshots and interactive browsing with a real Chromium, through the MCP client.

Chromium is the Debian one (MEMENTO_CHROMIUM_PATH's default); these tests are
skipped on a developer's machine without it (never in CI). The test site is on 127.0.0.1; pages that
try to reach "localhost" (the same site under a name the guard refuses) prove
that the browser's own requests pass the URL guard: the site counts hits.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import AsyncIterator, Iterator

import psutil
import pytest
from mcp import Client

from memento.servers.browse.browser import Chromium
from memento.servers.browse.rendering import render_page, screenshot
from memento.servers.browse.server import build
from memento.servers.browse.sessions import Sessions
from memento.servers.browse.settings import BrowseSettings
from memento.servers.common.errors import TimedOut, TooLarge
from memento.servers.common.netguard import pinned_policy
from tests.browse_site import FACTS, Site
from tests.sysdeps import needs

pytestmark = [
    pytest.mark.anyio,
    needs(bool(BrowseSettings().chromium_path), "Chromium (apt-get install chromium)"),
]


def settings_for(home, **extra) -> BrowseSettings:
    values = {"home": home, "allowed_hosts": ["127.0.0.1"], "http_timeout_s": 5, "browse_page_timeout_s": 4, "browse_settle_s": 1.0}
    return BrowseSettings(**(values | extra))


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    async with Client(build(settings_for(tmp_path_factory.mktemp("home")))) as running:
        yield running


async def call(client: Client, tool: str, **arguments):
    reply = await client.call_tool(tool, arguments)
    text = "\n".join(c.text for c in reply.content if c.type == "text")
    return reply, text


async def test_a_javascript_only_page_is_rendered_when_auto_sees_it_needs_scripts(client: Client, site: Site) -> None:
    reply, text = await call(client, "fetch_page", url=site.url("/js-only"))
    assert not reply.is_error, text
    assert reply.structured_content["rendered"]
    assert (all(fact in text for fact in FACTS) and "needs JavaScript" in text) or "relies on scripts" in text
    reply, text = await call(client, "fetch_page", url=site.url("/js-only"), render="never")
    assert not reply.structured_content["rendered"] and FACTS[0] not in text


async def test_a_site_refusing_plain_http_is_read_with_the_browser_in_auto_mode(client: Client, site: Site) -> None:
    reply, text = await call(client, "fetch_page", url=site.url("/browsers-only"))
    assert not reply.is_error, text
    assert reply.structured_content["rendered"] and "refused plain HTTP" in text
    reply, text = await call(client, "fetch_page", url=site.url("/browsers-only"), render="never")
    assert reply.is_error and "HTTP 403" in text


async def test_a_static_article_is_not_rendered_in_auto_mode(client: Client, site: Site) -> None:
    reply, _ = await call(client, "fetch_page", url=site.url("/article/2"))
    assert not reply.is_error and not reply.structured_content["rendered"]


async def test_a_page_whose_scripts_never_settle_is_read_as_it_stands(client: Client, site: Site) -> None:
    started = time.monotonic()
    reply, text = await call(client, "fetch_page", url=site.url("/never-settles"), render="always")
    assert not reply.is_error, text
    assert "ticker-token" in text and "still changing" in text
    assert time.monotonic() - started < 30


@pytest.mark.slow
async def test_a_page_that_hangs_its_scripts_is_a_timeout_and_the_browser_recovers(client: Client, site: Site) -> None:
    reply, text = await call(client, "fetch_page", url=site.url("/busy-loop"), render="always")
    assert reply.is_error and "did not finish loading" in text and "render='never'" in text
    reply, text = await call(client, "fetch_page", url=site.url("/article/3"), render="always")
    assert not reply.is_error and reply.structured_content["rendered"]


async def test_a_page_opening_a_thousand_popups_is_read_and_its_popups_go_nowhere(client: Client, site: Site) -> None:
    before = site.hits["/article/1"]
    reply, text = await call(client, "fetch_page", url=site.url("/popups"), render="always")
    assert not reply.is_error and "popup-token" in text
    assert site.hits["/article/1"] - before <= 2  # the popup blocker stops the storm; the rest are closed at once


async def test_the_browser_cannot_reach_addresses_the_guard_refuses(client: Client, site: Site) -> None:
    reply, text = await call(client, "fetch_page", url=site.url("/leaky"), render="always")
    assert not reply.is_error and "leaky-token" in text
    assert "blocked by the URL policy" in text and f"localhost:{site.port}/secret.png" in text
    reply, text = await call(client, "fetch_page", url=f"http://localhost:{site.port}/secret", render="always")
    assert reply.is_error and "loopback" in text
    reply, text = await call(client, "screenshot", url=f"http://localhost:{site.port}/secret")
    assert reply.is_error
    assert site.hits["/secret.png"] == site.hits["/secret-fetch"] == site.hits["/secret"] == 0


async def test_rendering_a_pdf_url_falls_back_to_reading_it_over_http(client: Client, site: Site) -> None:
    reply, text = await call(client, "fetch_page", url=site.url("/report.pdf"), render="always")
    assert not reply.is_error, text
    assert reply.structured_content["format"] == "pdf" and "pdf-page-1-token" in text


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


async def test_a_screenshot_is_a_png_of_the_viewport_or_the_whole_page(client: Client, site: Site) -> None:
    reply, text = await call(client, "screenshot", url=site.url("/article/1"))
    assert not reply.is_error, text
    image = next(c for c in reply.content if c.type == "image")
    assert image.mime_type == "image/png" and png_size(base64.b64decode(image.data)) == (1280, 800)
    reply, _ = await call(client, "screenshot", url=site.url("/article/1"), full_page=True)
    width, height = png_size(base64.b64decode(next(c for c in reply.content if c.type == "image").data))
    assert width == 1280 and height > 800


def ref_of(text: str, label: str) -> str:
    line = next(line for line in text.splitlines() if label in line and "[ref=" in line)
    return line.split("[ref=", 1)[1].split("]", 1)[0]


async def test_a_form_can_be_filled_submitted_and_left_with_back(client: Client, site: Site) -> None:
    reply, text = await call(client, "browser_open", url=site.url("/form"))
    assert not reply.is_error, text
    assert 'textbox "Your name"' in text and "<untrusted-page-content" in text
    reply, text = await call(client, "browser_type", ref=ref_of(text, 'textbox "Your name"'), text="Ada", submit=True)
    assert not reply.is_error, text
    assert reply.structured_content["url"] == site.url("/hello?name=Ada") and "Hello, Ada!" in text
    reply, text = await call(client, "browser_back")
    assert reply.structured_content["url"] == site.url("/form")
    reply, text = await call(client, "browser_back")
    assert "no earlier page" in text and reply.structured_content["url"] == site.url("/form")
    await call(client, "browser_close")


async def test_a_link_opening_a_new_tab_becomes_the_page_and_back_closes_it(client: Client, site: Site) -> None:
    _, text = await call(client, "browser_open", url=site.url("/form"))
    reply, text = await call(client, "browser_click", ref=ref_of(text, "Open terns in a new tab"))
    assert not reply.is_error, text
    assert reply.structured_content["tabs"] == 2 and reply.structured_content["url"] == site.url("/article/2")
    reply, text = await call(client, "browser_back")
    assert reply.structured_content["tabs"] == 1 and reply.structured_content["url"] == site.url("/form")
    reply, text = await call(client, "browser_click", ref=ref_of(text, "Read the tidal article"))
    assert reply.structured_content["url"] == site.url("/article/1")
    await call(client, "browser_close")


async def test_a_long_snapshot_comes_in_parts_that_share_its_refs(client: Client, site: Site) -> None:
    await call(client, "browser_open", url=site.url("/article/1"), max_length=500)
    first, text = await call(client, "browser_snapshot", max_length=400)
    page = first.structured_content["page"]
    assert page["next_start_index"] and f"start_index={page['next_start_index']}" in text
    second, _ = await call(client, "browser_snapshot", start_index=page["next_start_index"], max_length=400)
    assert second.structured_content["page"]["start_index"] == page["next_start_index"]
    verbose, _ = await call(client, "browser_snapshot", verbose=True, max_length=1_000_000)
    compact, _ = await call(client, "browser_snapshot", max_length=1_000_000)
    assert compact.structured_content["page"]["total_length"] < verbose.structured_content["page"]["total_length"]
    await call(client, "browser_close")


async def test_interactive_mistakes_are_tool_errors(client: Client, site: Site) -> None:
    reply, text = await call(client, "browser_snapshot")
    assert reply.is_error and "browser_open" in text
    _, text = await call(client, "browser_open", url=site.url("/form"))
    reply, text2 = await call(client, "browser_click", ref="e999")
    assert reply.is_error and "browser_snapshot" in text2
    reply, text2 = await call(client, "browser_type", ref=ref_of(text, "Loudly"), text="x")
    assert reply.is_error and "not a text field" in text2
    reply, text2 = await call(client, "browser_click", ref="not a ref")
    assert reply.is_error
    reply, text2 = await call(client, "browser_open", url=f"http://localhost:{site.port}/secret")
    assert reply.is_error and "loopback" in text2
    reply, text2 = await call(client, "browser_close")
    assert "Closed" in text2
    reply, text2 = await call(client, "browser_click", ref="e1")
    assert reply.is_error and "browser_open" in text2


@pytest.mark.slow
async def test_a_page_that_hangs_in_a_session_ends_the_session_not_the_server(client: Client, site: Site) -> None:
    reply, text = await call(client, "browser_open", url=site.url("/busy-loop"))
    assert reply.is_error and "session was closed" in text
    reply, text = await call(client, "browser_snapshot")
    assert reply.is_error and "browser_open" in text
    reply, text = await call(client, "browser_open", url=site.url("/form"))
    assert not reply.is_error and "Greet me" in text
    await call(client, "browser_close")


def chromium_pids() -> set[int]:
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower():
                found.add(child.pid)
        except psutil.NoSuchProcess:  # a helper process that ended between the listing and the look
            continue
    return found


@pytest.mark.slow
async def test_no_page_context_session_or_process_outlives_its_use(tmp_path, site: Site) -> None:
    before = chromium_pids()
    settings = settings_for(tmp_path, browse_page_timeout_s=2, browse_screenshot_max_height=1000, browse_max_sessions=2)
    chromium = Chromium(settings, pinned_policy(settings.url_policy()))
    try:
        shot = await screenshot(chromium, site.url("/article/1"), full_page=True)
        assert png_size(shot.png) == (1280, 1000) and shot.cut and shot.page_height > 1000  # a tall page is cut at the limit
        await render_page(chromium, site.url("/popups"))
        await render_page(chromium, site.url("/leaky"))
        with pytest.raises(TimedOut):
            await render_page(chromium, site.url("/busy-loop"))
        assert chromium.open_contexts == 0
        assert chromium_pids() - before, "Chromium should be running between requests"
        sessions = Sessions(chromium)
        await sessions.act("a", lambda session: sessions.goto(session, site.url("/form")), create=True)
        await sessions.act("b", lambda session: sessions.goto(session, site.url("/form")), create=True)
        with pytest.raises(TooLarge):  # settings allow two sessions
            await sessions.act("c", sessions.look, create=True)
        sessions.get("a").last_used -= settings.browse_session_idle_s + 1
        await sessions.reap()
        assert len(sessions) == 1 and chromium.open_contexts == 1
        await sessions.close_all()
        assert chromium.open_contexts == 0
    finally:
        await chromium.close()
    deadline = time.monotonic() + 20
    while chromium_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)  # bounded polling for the processes to exit
    assert not chromium_pids() - before
