"""One bounded download for tools that fetch a single document now and then.

A thin use of `WebClient` (the URL guard on every hop and where the socket
opens, size cap before and while reading, one deadline) without its cache:
the documents server and the search index builder each fetch a URL once.
"""

from __future__ import annotations

from .urls import UrlPolicy
from .webclient import Fetched, WebClient

__all__ = ["download"]


async def download(url: str, *, policy: UrlPolicy, max_bytes: int, timeout_s: float, user_agent: str, max_redirects: int = 10) -> Fetched:
    """GET `url` within the limits, or raise a `ServerError` that says why not."""
    client = WebClient(policy=policy, user_agent=user_agent, timeout_s=timeout_s, max_bytes=max_bytes, max_redirects=max_redirects)
    try:
        return await client.get(url, use_cache=False)
    finally:
        await client.aclose()
