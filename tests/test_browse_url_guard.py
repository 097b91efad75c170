"""The URL guard of the browse server's HTTP client: refusals decided before, and where, a connection is made.

Resolution is stubbed, and the network backend under the guard refuses every
address but the loopback test site, recording what was asked of it: private,
link-local and metadata addresses are only ever refused, never contacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpcore
import pytest
from mcp import Client

from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from memento.servers.common.errors import AccessDenied, FetchFailed
from memento.servers.common.netguard import GuardedBackend
from memento.servers.common.urls import UrlPolicy
from memento.servers.common.webclient import WebClient
from tests.browse_site import Site
from tests.mcp_servers import free_port

pytestmark = pytest.mark.anyio


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    """Connects to 127.0.0.1 (the test site) and refuses anything else, recording every attempt."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.attempts.append(host)
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"the test forbids connecting to {host}")
        return await self.real.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.real.sleep(seconds)


def stub_resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise FetchFailed(f"Could not resolve host {host!r} (stubbed). Check the URL's spelling.")
        return table[host]

    return resolve


NAMES = {"sneaky.example": ["127.0.0.1"], "internal.example": ["10.1.2.3"], "public.example": ["93.184.215.14"], "localhost": ["127.0.0.1"]}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def client_for(backend: LoopbackOnly, **policy) -> WebClient:
    policy.setdefault("resolver", stub_resolver(NAMES))
    return WebClient(policy=UrlPolicy(**policy), user_agent="test", timeout_s=5, max_bytes=1_000_000, network_backend=backend)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/admin",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://sneaky.example/",  # a public-looking name that resolves to 127.0.0.1
        "http://internal.example/",
    ],
)
async def test_private_loopback_and_metadata_urls_are_refused_without_a_connection(url: str) -> None:
    backend = LoopbackOnly()
    client = client_for(backend)
    try:
        with pytest.raises(AccessDenied):
            await client.get(url)
    finally:
        await client.aclose()
    assert backend.attempts == []


@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.7/", "http://169.254.169.254/latest/meta-data/", "http://internal.example/x", "http://localhost:{port}/secret"],
)
async def test_a_redirect_into_a_private_address_is_refused_at_the_hop(site: Site, target: str) -> None:
    backend = LoopbackOnly()
    client = client_for(backend, allow_hosts=frozenset({"127.0.0.1"}))
    before = site.hits["/secret"]
    try:
        with pytest.raises(AccessDenied, match="Refused"):
            await client.get(site.url("/redirect-to?url=" + quote(target.format(port=site.port), safe="")))
    finally:
        await client.aclose()
    assert backend.attempts == ["127.0.0.1"]  # the test site, once; never the redirect target
    assert site.hits["/secret"] == before


async def test_the_address_checked_is_the_address_connected_to() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # a second DNS answer that rebinds to loopback

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    backend = LoopbackOnly()
    client = client_for(backend, resolver=rebinding)
    try:
        with pytest.raises(FetchFailed):  # the stub backend refuses the public address: nothing is contacted
            await client.get("http://rebind.example/")
    finally:
        await client.aclose()
    assert backend.attempts == ["93.184.215.14"]


async def test_the_connection_itself_is_refused_when_the_name_resolves_privately() -> None:
    backend = LoopbackOnly()
    guarded = GuardedBackend(UrlPolicy(resolver=stub_resolver(NAMES)), backend)
    with pytest.raises(AccessDenied, match=r"127\.0\.0\.1"):
        await guarded.connect_tcp("sneaky.example", 80)
    assert backend.attempts == []


async def test_allowed_hosts_and_private_networks_can_be_let_through(site: Site) -> None:
    backend = LoopbackOnly()
    for policy in ({"allow_hosts": frozenset({"127.0.0.1"})}, {"allow_private": True}):
        client = client_for(backend, **policy)
        try:
            fetched = await client.get(site.url("/plain.txt"))
        finally:
            await client.aclose()
        assert b"plain-token" in fetched.content


async def test_the_fetch_tool_refuses_a_name_that_resolves_to_loopback(tmp_path) -> None:
    closed_port = free_port()  # nothing listens there: even a failed guard would reach no server
    settings = BrowseSettings(home=tmp_path)
    async with Client(build(settings, resolver=stub_resolver(NAMES))) as client:
        for url in (f"http://sneaky.example:{closed_port}/", f"http://127.0.0.1:{closed_port}/"):
            for tool in ("fetch_page", "find_in_page", "page_links"):
                arguments = {"url": url, "pattern": "x"} if tool == "find_in_page" else {"url": url}
                reply = await client.call_tool(tool, arguments)
                assert reply.is_error
                assert "loopback" in reply.content[0].text and "MEMENTO_ALLOW_PRIVATE_URLS" in reply.content[0].text
