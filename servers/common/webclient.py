"""The shared async HTTP client for web pages: guarded, bounded, cached, decoded.

One `WebClient` per server holds one connection pool. Every hop of a GET is
checked by the URL policy before the request and again where the socket is
opened (`GuardedBackend`); redirects are followed here, at most
`max_redirects`, with loops named. The whole fetch has one deadline; a body
is refused by its declared length and stopped the moment it passes the cap
(counted after decompression, so a gzip bomb stops too). gzip, deflate,
brotli and zstd are accepted when their decoders are installed. Successful
responses go to the on-disk `HttpCache`. Cookies are never kept between fetches.
"""

from __future__ import annotations

import http.cookiejar
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import anyio
import anyio.to_thread
import httpx

from memento.convert.charsets import decode_body

from .errors import FetchFailed, InvalidInput, TimedOut, TooLarge
from .httpcache import CachedResponse, HttpCache
from .netguard import GuardedBackend, check_url_async, pinned_policy
from .urls import UrlPolicy

__all__ = ["Fetched", "HttpStatusError", "WebClient", "decode_body"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,application/pdf;q=0.9,*/*;q=0.8"


class HttpStatusError(FetchFailed):
    """The server answered with a 4xx or 5xx status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Fetched:
    requested_url: str
    url: str  # final URL after redirects
    status: int
    content_type: str
    content: bytes
    from_cache: bool = False
    elapsed_s: float = 0.0

    @property
    def mime_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    def text(self) -> tuple[str, str]:
        """(text, encoding) of the body, whatever charset it really uses."""
        return decode_body(self.content, self.content_type)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:  # one fetch must not leak state into the next
        return False


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a connection pool that connects through `GuardedBackend`."""

    def __init__(self, backend: GuardedBackend, max_connections: int) -> None:
        import httpcore

        super().__init__(trust_env=False, retries=0)
        # httpx builds its pool in __init__ without a way to pass a network backend; swap it for one that has it.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class WebClient:
    def __init__(
        self,
        *,
        policy: UrlPolicy,
        user_agent: str,
        timeout_s: float,
        max_bytes: int,
        max_redirects: int = 10,
        cache: HttpCache | None = None,
        max_connections: int = 20,
        network_backend=None,
    ) -> None:
        self.policy = pinned_policy(policy)
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.cache = cache
        self._backend = GuardedBackend(self.policy, network_backend)
        self._user_agent = user_agent
        self._max_connections = max_connections
        self._opened: httpx.AsyncClient | None = None
        self._closed = False

    @property
    def _client(self) -> httpx.AsyncClient:
        """The httpx client, opened on first use: its TLS set-up is tens of ms a server's start need not wait for."""
        if self._opened is None:
            if self._closed:
                raise RuntimeError("this WebClient is closed")
            self._opened = httpx.AsyncClient(
                transport=_GuardedTransport(self._backend, self._max_connections),
                timeout=httpx.Timeout(self.timeout_s),
                headers={"User-Agent": self._user_agent, "Accept": _ACCEPT, "Accept-Language": "en;q=1.0, *;q=0.5"},
                cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
                follow_redirects=False,
                trust_env=False,
            )
        return self._opened

    async def aclose(self) -> None:
        self._closed = True
        if self._opened is not None:
            await self._opened.aclose()  # httpx refuses requests on a closed client, as before

    async def get(self, url: str, *, use_cache: bool = True) -> Fetched:
        """GET `url` within the limits, from the cache when fresh, or raise a `ServerError` saying why not."""
        url = await check_url_async(url.strip(), self.policy)
        if use_cache and self.cache is not None:
            hit = await anyio.to_thread.run_sync(self.cache.get, url)
            if hit is not None:
                return Fetched(url, hit.url, hit.status, hit.content_type, hit.content, from_cache=True)
        started = time.perf_counter()
        current = url
        try:
            with anyio.fail_after(self.timeout_s):
                fetched = await self._follow(url)
        except TimeoutError as exc:
            raise TimedOut(
                f"{current} did not finish within {self.timeout_s:g} s (MEMENTO_HTTP_TIMEOUT_S). "
                "The site is slow or unreachable; try again later or another source."
            ) from exc
        fetched = Fetched(url, fetched.url, fetched.status, fetched.content_type, fetched.content, False, time.perf_counter() - started)
        if use_cache and self.cache is not None and fetched.status == 200:
            entry = CachedResponse(fetched.url, fetched.status, fetched.content_type, fetched.content, time.time())
            await anyio.to_thread.run_sync(self.cache.put, url, entry)
        return fetched

    async def _follow(self, url: str) -> Fetched:
        current = url
        seen = [url]
        for _ in range(self.max_redirects + 1):
            try:
                async with self._client.stream("GET", current) as response:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        target = urljoin(current, response.headers["location"])
                        if target in seen:
                            raise FetchFailed(f"Redirect loop: {' -> '.join([*seen, target])}. The page cannot be read.")
                        seen.append(target)
                        current = await check_url_async(target, self.policy)
                        continue
                    if response.status_code >= 400:
                        raise HttpStatusError(_status_message(current, response), response.status_code)
                    body = await self._read(response, current)
                    return Fetched(url, current, response.status_code, response.headers.get("content-type", ""), body)
            except httpx.TimeoutException as exc:
                raise TimedOut(f"{current} did not answer within {self.timeout_s:g} s (MEMENTO_HTTP_TIMEOUT_S).") from exc
            except httpx.ConnectError as exc:
                raise FetchFailed(f"Could not connect to {current}: {_reason(exc)}. The site may be down; try later.") from exc
            except httpx.InvalidURL as exc:
                raise InvalidInput(f"Malformed URL {current!r}: {exc}.") from exc
            except httpx.DecodingError as exc:
                raise FetchFailed(f"{current} sent a body its declared compression cannot decode ({exc}).") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"Fetching {current} failed: {type(exc).__name__}: {_reason(exc)}.") from exc
        raise FetchFailed(f"More than {self.max_redirects} redirects starting at {url}; the page cannot be read.")

    async def _read(self, response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:  # compressed or not, it only grows when decoded
            raise TooLarge(
                f"{url} is {int(declared):,} bytes, over the {self.max_bytes:,}-byte limit; it was not downloaded. "
                "Look for a smaller version of the page or document."
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise TooLarge(
                    f"{url} is over the {self.max_bytes:,}-byte limit; reading stopped there. "
                    "Look for a smaller version of the page or document."
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _status_message(url: str, response: httpx.Response) -> str:
    status = response.status_code
    hint = {
        401: " The page needs a login.",
        403: " The site refuses automated readers or needs a login; try another source.",
        404: " The page does not exist; check the URL or search for it.",
        410: " The page was removed.",
        429: " The site is rate-limiting; wait before trying again.",
    }.get(status, " The server failed; try again later." if status >= 500 else "")
    return f"{url} answered HTTP {status} {response.reason_phrase}.{hint}"


def _reason(exc: BaseException) -> str:
    """The root cause in a few words: 'connection refused' rather than 'All connection attempts failed'."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return "connection refused"
        for inner in getattr(seen, "exceptions", ()):  # anyio groups one error per address tried
            if isinstance(inner, ConnectionRefusedError):
                return "connection refused"
        seen = seen.__cause__ or seen.__context__
    return " ".join(str(exc).split()) or type(exc).__name__
