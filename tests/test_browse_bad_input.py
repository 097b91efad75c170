"""Bad input to the browse server over HTTP: each case is a clear tool error, and the server keeps serving.

Name resolution is stubbed (unknown names fail as DNS would), so no query
leaves the machine; the test site on 127.0.0.1 plays every misbehaving server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client

from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from memento.servers.common.errors import FetchFailed
from tests.browse_site import Site
from tests.mcp_servers import free_port

pytestmark = pytest.mark.anyio

LIMIT = 2 * 1024 * 1024


def no_dns(host: str, port: int) -> list[str]:
    raise FetchFailed(f"Could not resolve host {host!r} (Name or service not known). Check the URL's spelling.")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    settings = BrowseSettings(
        home=tmp_path_factory.mktemp("home"),
        allowed_hosts=["127.0.0.1"],
        http_timeout_s=1.5,
        browse_max_bytes=LIMIT,
        browse_max_redirects=10,
    )
    async with Client(build(settings, resolver=no_dns)) as running:
        yield running


CASES = [
    ("http://exa mple.org:99999/", "Malformed URL"),
    ("file:///etc/passwd", "Unsupported URL scheme 'file'"),
    ("ftp://ftp.example.org/pub/file.txt", "only http and https"),
    ("example.org/page", "Unsupported URL scheme"),
    ("http://no-such-host.invalid/", "Could not resolve host"),
    ("{closed}", "connection refused"),
    ("/slow", "did not finish within 1.5 s"),
    ("/status/404", "HTTP 404"),
    ("/status/500", "HTTP 500"),
    ("/loop-a", "Redirect loop"),
    ("/redirect/15", "More than 10 redirects"),
    ("/huge", "over the 2,097,152-byte limit; it was not downloaded"),
    ("/endless", "over the 2,097,152-byte limit; reading stopped"),
    ("/gzip-bomb", "over the 2,097,152-byte limit"),
    ("/garbage", "binary content"),
]


@pytest.mark.parametrize(("target", "message"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_a_clear_error_and_the_server_lives_on(client: Client, site: Site, target: str, message: str) -> None:
    url = site.url(target) if target.startswith("/") else target.replace("{closed}", f"http://127.0.0.1:{free_port()}/")
    reply = await client.call_tool("fetch_page", {"url": url, "render": "never"})
    assert reply.is_error
    assert message in reply.content[0].text
    assert "Traceback" not in reply.content[0].text
    healthy = await client.call_tool("fetch_page", {"url": site.url("/plain.txt")})
    assert not healthy.is_error and "plain-token" in healthy.content[0].text


async def test_a_50_mb_page_is_refused_without_being_read(client: Client, site: Site) -> None:
    reply = await client.call_tool("fetch_page", {"url": site.url("/huge"), "render": "never"})
    assert reply.is_error and "52,428,800 bytes" in reply.content[0].text
    assert site.sent["/huge"] < 25 * 1024 * 1024  # what the socket buffers took before the client hung up; far from 50 MB


async def test_out_of_range_arguments_are_refused_by_the_schema_or_the_paginator(client: Client, site: Site) -> None:
    reply = await client.call_tool("fetch_page", {"url": site.url("/plain.txt"), "start_index": 10_000})
    assert reply.is_error and "past the end" in reply.content[0].text
    reply = await client.call_tool("fetch_page", {"url": site.url("/plain.txt"), "render": "sometimes"})
    assert reply.is_error
    reply = await client.call_tool("find_in_page", {"url": site.url("/plain.txt"), "pattern": "(unclosed", "regex": True})
    assert reply.is_error and "Malformed regular expression" in reply.content[0].text
