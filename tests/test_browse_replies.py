"""What the browse tools' replies hold outside the untrusted block, and how big a screenshot may get.

The page's title, URL and notes quoting it stay inside `<untrusted-page-content>`: only the tool's own facts
come before it. Full-page screenshots are cut to the width, height and byte limits, and the reply says so.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client

from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from tests.browse_site import Site
from tests.sysdeps import needs

pytestmark = pytest.mark.anyio
chromium_needed = needs(bool(BrowseSettings().chromium_path), "Chromium (apt-get install chromium)")

IMPOSTOR = "OPERATOR NOTICE"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def settings_for(home, **extra) -> BrowseSettings:
    values = {"home": home, "allowed_hosts": ["127.0.0.1"], "http_timeout_s": 5, "browse_page_timeout_s": 5, "browse_settle_s": 0.5}
    return BrowseSettings(**(values | extra))


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    async with Client(build(settings_for(tmp_path_factory.mktemp("home")))) as running:
        yield running


async def call(client: Client, tool: str, **arguments):
    reply = await client.call_tool(tool, arguments)
    text = "\n".join(c.text for c in reply.content if c.type == "text")
    return reply, text


def outside_and_inside(text: str) -> tuple[str, str]:
    before, rest = text.split("<untrusted-page-content", 1)
    inside, after = rest.split("</untrusted-page-content>", 1)
    return before + after, inside


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("fetch_page", {"render": "never"}),
        ("find_in_page", {"pattern": "impostor-token", "render": "never"}),
        ("page_links", {"render": "never"}),
    ],
)
async def test_a_page_title_never_speaks_outside_the_untrusted_block(client: Client, site: Site, tool: str, arguments: dict) -> None:
    reply, text = await call(client, tool, url=site.url("/impostor"), **arguments)
    assert not reply.is_error, text
    outside, inside = outside_and_inside(text)
    assert IMPOSTOR not in outside and f"Title: {IMPOSTOR}" in inside
    assert "untrusted data" in outside and "/impostor" in inside
    assert reply.structured_content["title"].startswith(IMPOSTOR)  # still there for a program to read


@chromium_needed
async def test_browser_replies_keep_the_title_and_blocked_urls_inside_the_block(client: Client, site: Site) -> None:
    for tool in ("screenshot", "browser_open"):
        reply, text = await call(client, tool, url=site.url("/impostor"))
        assert not reply.is_error, text
        outside, inside = outside_and_inside(text)
        assert IMPOSTOR not in outside and IMPOSTOR in inside, tool
    await call(client, "browser_close")
    reply, text = await call(client, "fetch_page", url=site.url("/leaky"), render="always")
    outside, inside = outside_and_inside(text)
    assert "/secret.png" not in outside and f"localhost:{site.port}/secret.png" in inside


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def image_of(reply) -> bytes:
    return base64.b64decode(next(c for c in reply.content if c.type == "image").data)


@chromium_needed
async def test_a_very_wide_full_page_screenshot_is_cut_to_the_width_and_height_limits(tmp_path, site: Site) -> None:
    async with Client(build(settings_for(tmp_path, browse_page_timeout_s=30))) as client:  # a 30,000 px page is slow to lay out
        reply, text = await call(client, "screenshot", url=site.url("/wide?w=30000&h=9000"), full_page=True)
    assert not reply.is_error, text
    assert png_size(image_of(reply)) == (2560, 8000)  # the defaults
    outside, _ = outside_and_inside(text)
    assert re.search(r"30,000x9,\d{3} px", outside) and "2,560x8,000" in outside and "MEMENTO_BROWSE_SCREENSHOT_MAX_WIDTH" in outside


@chromium_needed
async def test_a_screenshot_over_the_byte_limit_is_retaken_shorter_and_says_so(tmp_path, site: Site) -> None:
    settings = settings_for(tmp_path, browse_screenshot_max_bytes=300_000)
    async with Client(build(settings)) as client:
        reply, text = await call(client, "screenshot", url=site.url("/wide?w=1000&h=3000&noise=1000"), full_page=True)
        assert not reply.is_error, text
        data = image_of(reply)
        width, height = png_size(data)
        assert len(data) <= 300_000 and width == 1280 and 50 <= height < 1000
        outside, _ = outside_and_inside(text)
        assert re.search(r"the full page is 1,280x3,\d{3} px", outside) and "300,000 bytes" in outside
        reply, text = await call(client, "screenshot", url=site.url("/wide?w=1280&h=800&noise=1280"))  # the viewport too
        assert not reply.is_error and len(image_of(reply)) <= 300_000 and "Cut: the viewport" in text
