"""One bounded download for tools that fetch a single document now and then.

A thin use of `WebClient` (the URL guard on every hop and where the socket
opens, size cap before and while reading, one deadline) without its cache:
the documents server and the search index builder each fetch a URL once.
"""

from __future__ import annotations

from .settings import CommonSettings
from .webclient import Fetched, WebClient

__all__ = ["download"]


async def download(url: str, settings: CommonSettings, *, max_bytes: int, max_redirects: int = 10) -> Fetched:
    """GET `url` within the limits, or raise a `ServerError` that says why not.

    The URL guard, time limit and User-Agent are the server's common settings; the size cap is the caller's own.
    """
    client = WebClient(
        policy=settings.url_policy(),
        user_agent=settings.user_agent,
        timeout_s=settings.http_timeout_s,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
    )
    try:
        return await client.get(url, use_cache=False)
    finally:
        await client.aclose()
