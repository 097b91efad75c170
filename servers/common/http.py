"""Bounded downloads: the URL guard on every hop, a size cap, a time cap.

`download()` follows redirects itself so each new location passes `check_url`
again, refuses a body whose declared length is over the cap before reading it,
stops reading the moment the cap is passed, and checks the address it actually
connected to (a second DNS answer cannot slip a private address past the guard).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from .errors import AccessDenied, FetchFailed, InvalidInput, TimedOut, TooLarge
from .urls import UrlPolicy, blocked_reason, check_url

__all__ = ["Download", "download"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Download:
    url: str  # final URL after redirects
    content: bytes
    content_type: str
    status: int


async def download(
    url: str,
    *,
    policy: UrlPolicy,
    max_bytes: int,
    timeout_s: float,
    user_agent: str,
    max_redirects: int = 10,
) -> Download:
    """GET `url` within the limits, or raise a `ServerError` that says why not."""
    current = check_url(url, policy)
    seen: list[str] = []
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s), headers={"User-Agent": user_agent}, follow_redirects=False, trust_env=False
    ) as client:
        try:
            for _ in range(max_redirects + 1):
                async with client.stream("GET", current) as response:
                    _check_peer(response, current, policy)
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        seen.append(current)
                        current = check_url(urljoin(current, response.headers["location"]), policy)
                        if current in seen:
                            raise FetchFailed(f"Redirect loop: {' -> '.join([*seen, current])}.")
                        continue
                    if response.status_code >= 400:
                        raise FetchFailed(
                            f"{current} answered HTTP {response.status_code} {response.reason_phrase}."
                            + (" The page does not exist." if response.status_code == 404 else "")
                        )
                    body = await _read_capped(response, current, max_bytes)
                    return Download(
                        url=current,
                        content=body,
                        content_type=response.headers.get("content-type", ""),
                        status=response.status_code,
                    )
        except httpx.TimeoutException as exc:
            raise TimedOut(f"{current} did not answer within {timeout_s:g} s.") from exc
        except httpx.ConnectError as exc:
            raise FetchFailed(f"Could not connect to {current}: {exc}.") from exc
        except httpx.InvalidURL as exc:
            raise InvalidInput(f"Malformed URL {current!r}: {exc}.") from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(f"Download of {current} failed: {type(exc).__name__}: {exc}.") from exc
    raise FetchFailed(f"More than {max_redirects} redirects starting at {url}.")


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"{url} is {int(declared):,} bytes, over the {max_bytes:,}-byte download limit.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"{url} is over the {max_bytes:,}-byte download limit; stopped reading.")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_peer(response: httpx.Response, url: str, policy: UrlPolicy) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return
    host = httpx.URL(url).host
    if host in policy.allow_hosts:
        return
    reason = blocked_reason(address, allow_private=policy.allow_private)
    if reason:
        raise AccessDenied(f"Refused {url!r}: the connection went to {address}, {reason}.")
