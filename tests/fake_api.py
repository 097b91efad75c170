"""What a test scripts for a fake model API, and the loopback HTTP server that replays it.

A test queues answers (text, tool calls, thinking blocks, usage) and failures;
`FakeAPI` takes one per request and records every request it received in
`Seen`. The vendors' formats (Anthropic, OpenAI) are subclasses in
`tests/fake_llm.py`, which is what tests import.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "Answer",
    "Block",
    "FakeAPI",
    "Failure",
    "Item",
    "RedactedThinking",
    "Responder",
    "Seen",
    "Text",
    "Thinking",
    "ToolUse",
    "answer",
    "bad_request",
    "overloaded",
    "rate_limited",
    "server_error",
    "stream_cut",
    "stream_error",
    "stream_stalled",
    "unauthorized",
]

# -- what a test scripts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # empty: the fake numbers it (toolu_fake_1, call_fake_1…)


@dataclass(frozen=True)
class Thinking:
    thinking: str
    signature: str


@dataclass(frozen=True)
class RedactedThinking:
    data: str


Block = Text | ToolUse | Thinking | RedactedThinking


@dataclass
class Answer:
    """A successful reply: content blocks and the usage the vendor reports."""

    blocks: list[Block]
    stop_reason: str = ""  # empty: tool_use/tool_calls when a tool is called, else end_turn/stop
    input_tokens: int = 12
    output_tokens: int = 7
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass
class Failure:
    """An error reply: HTTP status, the vendor's error type and message, extra headers.

    `in_stream`: (Anthropic) answer 200, start the stream, then send an `error` event.
    `cut`: (Anthropic, with `in_stream`) stop mid-way through a text block instead, closing the connection.
    `stall_s`: (Anthropic, with `in_stream`) start the stream, send nothing for this long, then close.
    """

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    in_stream: bool = False
    cut: bool = False
    stall_s: float = 0.0


Item = Answer | Failure


def answer(*blocks: Block | str, **usage: Any) -> Answer:
    """An answer of blocks (a plain string is a text block); keywords as `Answer`'s."""
    return Answer([Text(b) if isinstance(b, str) else b for b in blocks], **usage)


def rate_limited(retry_after: str = "0", **headers: str) -> Failure:
    return Failure(
        429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", {"retry-after": retry_after, **headers}
    )


def server_error(status: int = 500, **headers: str) -> Failure:
    return Failure(status, "api_error", "Internal server error", dict(headers))


def overloaded(**headers: str) -> Failure:
    return Failure(529, "overloaded_error", "Overloaded", dict(headers))


def unauthorized() -> Failure:
    return Failure(401, "authentication_error", "invalid x-api-key", {"x-should-retry": "false"})


def bad_request(message: str) -> Failure:
    return Failure(400, "invalid_request_error", message, {"x-should-retry": "false"})


def stream_error(error_type: str = "overloaded_error") -> Failure:
    return Failure(200, error_type, "Overloaded", in_stream=True)


def stream_cut() -> Failure:
    """A stream that breaks off after its first text delta, the connection closed with no error event."""
    return Failure(200, "", "", in_stream=True, cut=True)


def stream_stalled(seconds: float) -> Failure:
    """A stream that starts, then sends nothing for `seconds` (longer than the client's read timeout), then closes."""
    return Failure(200, "", "", in_stream=True, stall_s=seconds)


# -- what the fake saw -----------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any

    @property
    def api_key(self) -> str:
        """The key as sent: `x-api-key`, else a bearer token."""
        return self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


# -- the server ------------------------------------------------------------------------------------


class FakeAPI:
    """A loopback HTTP server answering one path from a queue; subclasses speak a vendor's format."""

    path = ""
    id_prefix = ""

    def __init__(self, *, max_requests: int = 100) -> None:
        self.max_requests = max_requests
        self.requests: list[Seen] = []
        self._queue: deque[Item] = deque()
        self.responder: Callable[[dict[str, Any]], Item] | None = None  # answers when the queue is empty
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def enqueue(self, *items: Item) -> None:
        with self._lock:
            self._queue.extend(items)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def remaining(self) -> int:
        return len(self._queue)

    @property
    def last(self) -> Seen:
        return self.requests[-1]

    def _next_id(self) -> str:
        return f"{self.id_prefix}{next(self._ids)}"

    # -- subclasses ------------------------------------------------------------------------------

    def problems(self, body: Any) -> list[str]:
        """What the real API would refuse in this request body."""
        return []

    def error_body(self, failure: Failure) -> dict[str, Any]:
        raise NotImplementedError

    def send_answer(self, out: Responder, item: Answer | Failure, body: dict[str, Any]) -> None:
        """Send an answer; a `Failure` here is one `in_stream`."""
        raise NotImplementedError

    # -- HTTP ------------------------------------------------------------------------------------

    def _take(self, seen: Seen) -> Item:
        with self._lock:
            self.requests.append(seen)
            if len(self.requests) > self.max_requests:
                return bad_request(f"fake: more than {self.max_requests} requests; is a loop stuck?")
            problems = self.problems(seen.body)
            if problems:
                return bad_request("; ".join(problems))
            if not self._queue and self.responder is not None:
                return self.responder(seen.body)
            if not self._queue:
                return bad_request(f"fake: no scripted reply left for request {len(self.requests)}")
            return self._queue.popleft()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                out = Responder(self)
                if self.path.split("?")[0] != api.path:
                    api.requests.append(seen)
                    out.json(
                        404, {"error": {"type": "not_found_error", "message": f"fake: no route {self.path}"}}, {"x-should-retry": "false"}
                    )
                    return
                item = api._take(seen)
                if isinstance(item, Failure) and not item.in_stream:
                    out.json(item.status, api.error_body(item), item.headers)
                    return
                api.send_answer(out, item, body if isinstance(body, dict) else {})

        return Handler


class Responder:
    """Writes one response: a JSON document, or an event stream closed when the connection ends."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._h = handler

    def json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._h.send_response(status)
        self._h.send_header("content-type", "application/json")
        self._h.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self._h.send_header(name, value)
        self._h.end_headers()
        self._h.wfile.write(data)

    def start_stream(self) -> None:
        self._h.send_response(200)
        self._h.send_header("content-type", "text/event-stream")
        self._h.send_header("cache-control", "no-cache")
        self._h.end_headers()  # HTTP/1.0: the body ends when the connection closes

    def event(self, data: Any, name: str | None = None) -> None:
        head = f"event: {name}\n" if name else ""
        payload = data if isinstance(data, str) else json.dumps(data)
        self._h.wfile.write(f"{head}data: {payload}\n\n".encode())
        self._h.wfile.flush()
