"""Every way a page could make Chromium reach an address the URL guard refuses, each shown closed.

Two loopback sites: the test site on 127.0.0.1 (an allowed host) serves the
attack pages; a second one is the blocked target, reached as "localhost:PORT",
a name the guard refuses. After each test that second site must have accepted
no connection at all. Channels: redirect hops (navigation and subresources),
script navigation, a SharedWorker's fetch and WebSocket, speculation rules,
prefetch and preconnect hints, WebRTC (STUN over UDP, TURN over TCP), through
fetch_page (always and auto), screenshot, browser_open and browser_click.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest
from mcp import Client

from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from tests.browse_site import Site
from tests.sysdeps import needs

pytestmark = [
    pytest.mark.anyio,
    needs(bool(BrowseSettings().chromium_path), "Chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


@pytest.fixture(scope="module")
def blocked() -> Iterator[Site]:
    """The site the guard refuses (as localhost:PORT); it must never see a connection."""
    with Site() as running:
        yield running


@pytest.fixture(autouse=True)
def never_contacted(blocked: Site) -> Iterator[None]:
    yield
    assert blocked.connections == 0 and not blocked.hits, f"the blocked site was reached: {dict(blocked.hits)}"


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    settings = BrowseSettings(
        home=tmp_path_factory.mktemp("home"),
        allowed_hosts=["127.0.0.1"],
        http_timeout_s=5,
        browse_page_timeout_s=5,
        browse_settle_s=1.0,
        browse_cache_ttl_s=0,
    )
    async with Client(build(settings)) as running:
        yield running


async def call(client: Client, tool: str, **arguments):
    reply = await client.call_tool(tool, arguments)
    text = "\n".join(c.text for c in reply.content if c.type == "text")
    return reply, text


def secret(blocked: Site, path: str = "/secret") -> str:
    return f"http://localhost:{blocked.port}{path}"


def via_redirect(site: Site, target: str) -> str:
    return site.url("/redirect-to?url=" + quote(target, safe=""))


def attack(site: Site, kind: str, target: str) -> str:
    return site.url(f"/attack/{kind}?target=" + quote(target, safe=""))


async def test_a_redirect_to_a_blocked_address_is_refused_at_the_hop_by_every_browser_tool(
    client: Client, site: Site, blocked: Site
) -> None:
    url = via_redirect(site, secret(blocked))
    for tool, arguments in (
        ("fetch_page", {"url": url, "render": "always"}),
        ("screenshot", {"url": url}),
        ("screenshot", {"url": url, "full_page": True}),
        ("browser_open", {"url": url}),
    ):
        reply, text = await call(client, tool, **arguments)
        assert reply.is_error, f"{tool} returned the page behind a blocked redirect: {text[:300]}"
        assert "Refused" in text and f"localhost:{blocked.port}" in text
    await call(client, "browser_close")


async def test_a_script_navigating_through_a_redirect_is_refused_also_in_auto_mode(client: Client, site: Site, blocked: Site) -> None:
    for kind in ("navigate", "navigate-later"):
        url = attack(site, kind, via_redirect(site, secret(blocked)))
        for render in ("auto", "always"):  # the page has almost no text and a script: auto renders it
            reply, text = await call(client, "fetch_page", url=url, render=render)
            assert reply.is_error and "URL policy" in text, text[:300]
        reply, text = await call(client, "browser_open", url=url)
        assert reply.is_error and "URL policy" in text and "browser_back" in text, text[:300]
    await call(client, "browser_close")


async def test_images_frames_and_fetches_that_redirect_to_a_blocked_address_get_nothing(client: Client, site: Site, blocked: Site) -> None:
    url = attack(site, "subresources", via_redirect(site, secret(blocked)))
    reply, text = await call(client, "fetch_page", url=url, render="always")
    assert not reply.is_error, text
    assert "fetch failed" in text and "fetched:" not in text
    assert "blocked by the URL policy" in text and f"localhost:{blocked.port}" in text
    reply, text = await call(client, "screenshot", url=url)
    assert not reply.is_error and "blocked by the URL policy" in text


async def test_a_click_on_a_link_that_redirects_to_a_blocked_address_is_refused(client: Client, site: Site, blocked: Site) -> None:
    reply, text = await call(client, "browser_open", url=attack(site, "link", via_redirect(site, secret(blocked))))
    assert not reply.is_error, text
    ref = next(line for line in text.splitlines() if "Go there" in line).split("[ref=", 1)[1].split("]", 1)[0]
    reply, text = await call(client, "browser_click", ref=ref)
    assert reply.is_error and "URL policy" in text, text[:300]
    reply, text = await call(client, "browser_back")
    assert not reply.is_error and "Go there" in text
    await call(client, "browser_close")


async def test_a_shared_worker_can_neither_fetch_nor_open_a_socket_to_a_blocked_address(client: Client, site: Site, blocked: Site) -> None:
    url = attack(site, "shared-worker", secret(blocked, "/secret-worker"))
    reply, text = await call(client, "fetch_page", url=url, render="always")
    assert not reply.is_error, text
    assert "fetch failed" in text and "socket failed" in text and "fetched" not in text and "socket open" not in text
    assert "blocked by the URL policy" in text


async def test_speculation_rules_prefetch_and_preconnect_hints_reach_nothing_blocked(client: Client, site: Site, blocked: Site) -> None:
    for target in (secret(blocked, "/secret-prefetch"), via_redirect(site, secret(blocked, "/secret-prefetch"))):
        reply, text = await call(client, "fetch_page", url=attack(site, "speculation", target), render="always")
        assert not reply.is_error and "speculation-token" in text, text


async def test_webrtc_sends_no_udp_and_its_turn_connection_goes_through_the_guard(client: Client, site: Site, blocked: Site) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stun:
        stun.bind(("127.0.0.1", 0))
        stun.setblocking(False)
        # STUN at an allowed address (only a missing UDP path keeps it out); TURN at the blocked site.
        target = f"127.0.0.1:{stun.getsockname()[1]} localhost:{blocked.port}"
        reply, text = await call(client, "fetch_page", url=attack(site, "webrtc", target), render="always")
        assert not reply.is_error, text
        with pytest.raises(BlockingIOError):
            stun.recvfrom(2048)  # not one datagram arrived
