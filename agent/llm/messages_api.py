"""The Anthropic Messages API over httpx: one streamed POST /v1/messages, read into the final message, retried as the SDK would.

What it does: sends a request body as given, reads the server-sent events into the
message the API would have returned without streaming (text, tool_use with its
input assembled from the partial JSON, thinking with its signature, any other
block verbatim), and retries connection failures, timeouts, 408/409/429/5xx/529
and error events inside a started stream, honouring retry-after and
x-should-retry. What it leaves out: the SDK's typed objects, batches, files,
token counting, beta headers, Bedrock/Vertex, and anything but a streamed call.
It knows no neutral `Message` (anthropic_model.py maps those) and never puts the
key in a repr, a log line or an error.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from memento.core.errors import AgentError

__all__ = ["ApiConnectionError", "ApiStatusError", "ApiTimeout", "MessagesApiError", "MessagesClient"]

log = logging.getLogger(__name__)

API_VERSION = "2023-06-01"
_RETRY_STATUSES = frozenset({408, 409, 429})
# The status each error type stands for, when it arrives as an event after the HTTP 200 (for messages and retries).
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_RETRYABLE_IN_STREAM = frozenset({"overloaded_error", "api_error", "rate_limit_error"})
_LONGEST_WAIT_S = 8.0
_LONGEST_RETRY_AFTER_S = 60.0  # a longer retry-after means "not soon": fall back to our own backoff
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class MessagesApiError(AgentError):
    """A Messages API call failed after its retries; `AnthropicModel` turns it into `ModelFailed`."""


class ApiConnectionError(MessagesApiError):
    """No answer could be read: the connection failed or the stream broke off before message_stop."""


class ApiTimeout(ApiConnectionError):
    """Connecting, sending or a read took longer than the time limit."""


class ApiStatusError(MessagesApiError):
    """An HTTP error status, or an `error` event inside a started stream (given the status it stands for)."""

    def __init__(self, status_code: int, body: Any, headers: dict[str, str] | None = None, *, in_stream: bool = False) -> None:
        self.status_code = status_code
        self.body = body
        self.headers = headers or {}
        self.in_stream = in_stream
        error = body.get("error") if isinstance(body, dict) else None
        self.type = str(error.get("type") or "") if isinstance(error, dict) else ""
        super().__init__(f"{'error event' if in_stream else 'HTTP'} {status_code} {self.type}".rstrip())


class MessagesClient:
    """One httpx connection pool to the Messages API; `stream(body)` is the whole call, retries included."""

    def __init__(self, api_key: str, base_url: str, *, retries: int, timeout_s: float) -> None:
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._retries = retries
        host = (urlsplit(base_url).hostname or "").lower()
        self._client = httpx.AsyncClient(
            # accept as the SDK sends it (also for streams): proxies that mimic the API expect what the SDK sends.
            headers={"x-api-key": api_key, "anthropic-version": API_VERSION, "accept": "application/json", "user-agent": "memento"},
            # The limit applies to connecting, sending and each read: a stream that stops sending fails, it never hangs.
            timeout=httpx.Timeout(timeout_s),
            # The environment's proxy and CA variables (HTTPS_PROXY, SSL_CERT_FILE…) are honoured for a remote API, as the
            # SDK did, so a user behind a corporate proxy still gets through; never for a loopback URL (a local proxy or
            # test fake), which a stray HTTP_PROXY would otherwise send off the machine.
            trust_env=host not in _LOOPBACK,
        )

    def __repr__(self) -> str:
        return f"MessagesClient({self._url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, body: dict[str, Any], on_delta: Callable[[int], None] | None = None) -> dict[str, Any]:
        """The final message for `body` (sent with `stream: true`); `on_delta(n)` hears each content delta of the current try."""
        body = {**body, "stream": True}
        attempt = 0
        while True:
            try:
                return await self._once(body, on_delta)
            except MessagesApiError as exc:
                wait = self._wait(exc, attempt)
                if wait is None:
                    raise
                attempt += 1
                log.info("Messages API call failed (%s); retry %d of %d in %.2f s", exc, attempt, self._retries, wait)
                await anyio.sleep(wait)

    def _wait(self, exc: MessagesApiError, attempt: int) -> float | None:
        """Seconds to wait before retrying after `exc`, or None when it is not retried."""
        if attempt >= self._retries or not retryable(exc):
            return None
        headers = exc.headers if isinstance(exc, ApiStatusError) else {}
        after = retry_after(headers)
        if after is not None:
            return after
        # Exponential backoff from 0.5 s, capped; the jitter keeps many clients from retrying in step.
        return min(0.5 * 2**attempt, _LONGEST_WAIT_S) * (1 - 0.25 * random.random())

    async def _once(self, body: dict[str, Any], on_delta: Callable[[int], None] | None) -> dict[str, Any]:
        try:
            async with self._client.stream("POST", self._url, json=body) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                if not 200 <= response.status_code < 300:  # redirects are not followed: a moved API is a base URL to fix
                    await response.aread()
                    raise ApiStatusError(response.status_code, _document(response.text), headers)
                if "application/json" in headers.get("content-type", ""):
                    # Something between us and the API answered without streaming: the document is the message.
                    await response.aread()
                    return _message(_document(response.text))
                reader = _Assembler(on_delta)
                async for event, data in _events(response.aiter_lines()):
                    if reader.feed(event, data):
                        return reader.message
                raise ApiConnectionError("the stream ended before message_stop")
        except httpx.TimeoutException as exc:
            raise ApiTimeout(f"{type(exc).__name__}: {exc}") from exc
        except httpx.RequestError as exc:  # refused, reset, closed mid-body, undecodable…
            raise ApiConnectionError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc


def retryable(exc: MessagesApiError) -> bool:
    """Whether the SDK would try `exc` again: the server's x-should-retry first, then the kind of failure."""
    if isinstance(exc, ApiConnectionError):
        return True
    if not isinstance(exc, ApiStatusError):
        return False
    if exc.in_stream:
        return exc.type in _RETRYABLE_IN_STREAM
    should = exc.headers.get("x-should-retry", "").lower()
    if should in ("true", "false"):
        return should == "true"
    return exc.status_code in _RETRY_STATUSES or exc.status_code >= 500


def retry_after(headers: dict[str, str], *, now: float | None = None) -> float | None:
    """The wait the server asked for (retry-after-ms, else retry-after in seconds or as an HTTP date), if sensible."""
    seconds = _number(headers.get("retry-after-ms"))
    if seconds is not None:
        seconds /= 1000
    else:
        raw = headers.get("retry-after", "")
        seconds = _number(raw)
        if seconds is None and raw:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - (time.time() if now is None else now)
    # Zero means "now" and is honoured; a wait past a minute means "not soon": our own backoff decides instead.
    if seconds is None or not 0 <= seconds <= _LONGEST_RETRY_AFTER_S:
        return None
    return seconds


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _document(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _message(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("content"), list):
        raise ApiConnectionError("the API answered 200 with a document that is not a message")
    return document


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) per server-sent event; comments and fields other than event/data are skipped."""
    event, data = "", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield event or "message", "\n".join(data)


class _Assembler:
    """The streamed events of one message folded into the message itself, as the non-streaming API returns it."""

    def __init__(self, on_delta: Callable[[int], None] | None) -> None:
        self.message: dict[str, Any] = {"content": [], "usage": {}}
        self._json: dict[int, str] = {}  # a tool_use block's input as received so far
        self._deltas = 0
        self._on_delta = on_delta

    def feed(self, event: str, data: str) -> bool:
        """Take one event; True once the message is complete."""
        try:
            return self._take(event, json.loads(data))
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            # A malformed stream (cut JSON, a delta for a block never started): read as a broken-off stream.
            raise ApiConnectionError(f"a malformed {event} event ({type(exc).__name__}: {exc})"[:200]) from exc

    def _take(self, event: str, payload: Any) -> bool:
        kind = payload.get("type", event) if isinstance(payload, dict) else event
        if kind == "error":
            error = payload.get("error") or {}
            status = _ERROR_STATUS.get(str(error.get("type") or ""), 500)
            raise ApiStatusError(status, payload, in_stream=True)
        if kind == "message_start":
            self.message = {**payload["message"], "content": list(payload["message"].get("content") or [])}
        elif kind == "content_block_start":
            self._start(payload["index"], dict(payload["content_block"]))
        elif kind == "content_block_delta":
            self._delta(self.message["content"][payload["index"]], payload["index"], payload["delta"])
        elif kind == "content_block_stop":
            self._stop(payload["index"])
        elif kind == "message_delta":
            self.message.update(payload.get("delta") or {})
            usage = self.message.setdefault("usage", {})
            usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            return True
        # ping, and event types added to the API later: nothing to keep.
        return False

    def _start(self, index: int, block: dict[str, Any]) -> None:
        content = self.message["content"]
        while len(content) <= index:
            content.append({})
        content[index] = block
        if block.get("type") in ("tool_use", "server_tool_use"):
            self._json[index] = ""

    def _delta(self, block: dict[str, Any], index: int, delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta["text"]
        elif kind == "input_json_delta":
            self._json[index] = self._json.get(index, "") + delta["partial_json"]
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
        elif kind == "signature_delta":
            block["signature"] = delta["signature"]
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta["citation"])
        self._deltas += 1
        if self._on_delta is not None:
            self._on_delta(self._deltas)

    def _stop(self, index: int) -> None:
        if index in self._json:
            partial = self._json.pop(index)
            if partial:
                self.message["content"][index]["input"] = json.loads(partial)
