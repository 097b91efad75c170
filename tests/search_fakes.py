"""A fake of every web search vendor on 127.0.0.1, answering in each vendor's documented JSON.

One HTTP server serves SearxNG, Brave, Tavily, Serper, SerpAPI and Exa under
their own path prefixes; a test scripts the replies per vendor (success, empty,
401, 429 with Retry-After, 500, malformed…) and reads back the requests it got.
Unscripted requests get that vendor's success answer. The benchmark uses it too,
with a delay per reply. It listens on loopback only and stops with the fixture.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mcp import Client

from memento.servers.search.settings import SearchSettings

__all__ = [
    "PAGES",
    "WEB_VENDORS",
    "FakeVendors",
    "Reply",
    "empty",
    "malformed",
    "quota",
    "rate_limited",
    "search_client",
    "server_error",
    "success",
    "unauthorized",
]

WEB_VENDORS = ("searxng", "brave", "tavily", "serper", "serpapi", "exa")
# Where each vendor's endpoint lives on the fake, as the base-URL settings expect it.
_ENDPOINTS = {
    "searxng": "/searxng",  # the backend appends /search
    "brave": "/brave/res/v1/web/search",
    "tavily": "/tavily/search",
    "serper": "/serper/search",
    "serpapi": "/serpapi/search.json",
    "exa": "/exa/search",
}
_URL_VARIABLES = {
    "searxng": "MEMENTO_SEARXNG_URL",
    "brave": "MEMENTO_BRAVE_URL",
    "tavily": "MEMENTO_TAVILY_URL",
    "serper": "MEMENTO_SERPER_URL",
    "serpapi": "MEMENTO_SERPAPI_URL",
    "exa": "MEMENTO_EXA_URL",
}

# (title, url, snippet, date): the same three pages every fake vendor finds, in this order.
PAGES = [
    ("Rivers in winter", "https://example.org/rivers?utm_source=feed", "The <strong>rivers</strong> run high &amp; fast.", "2024-05-01"),
    ("Harbour news", "https://www.example.com/harbour/", "The harbour closed for the season.", None),
    ("Garden engines", "https://garden.example.net/engine", "An engine for gardens.", "2023-01-02"),
]


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list: sent as JSON; str/bytes: sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    vendor: str
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    at: float

    @property
    def query(self) -> str:
        """The search words, wherever this vendor carries them."""
        if self.params.get("q"):
            return self.params["q"][0]
        if isinstance(self.json, dict):
            return str(self.json.get("query") or self.json.get("q") or "")
        return ""


class FakeVendors:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.seen: list[Seen] = []
        self._queues: dict[str, deque[Reply]] = {v: deque() for v in WEB_VENDORS}
        self._responders: dict[str, Callable[[Seen], Reply | None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeVendors:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # cut any scripted delay short
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what tests use ------------------------------------------------------------------------

    def url(self, vendor: str) -> str:
        return self.base + _ENDPOINTS[vendor]

    def env(self, backends: list[str] | tuple[str, ...] = (), **extra: str) -> dict[str, str]:
        """MEMENTO_* variables pointing every vendor at this fake, with made-up keys, fast retries and no rate limit."""
        env = {_URL_VARIABLES[v]: self.url(v) for v in WEB_VENDORS}
        env |= {f"MEMENTO_{v.upper()}_API_KEY": f"test-key-{v}" for v in WEB_VENDORS if v != "searxng"}
        env |= {
            "MEMENTO_SEARCH_RATE_LIMITS": "*=0",
            "MEMENTO_SEARCH_BACKOFF_S": "0.05",
            "MEMENTO_SEARCH_RETRIES": "1",
            "MEMENTO_SEARCH_TIMEOUT_S": "5",
        }
        if backends:
            env["MEMENTO_SEARCH_BACKENDS"] = ",".join(backends)
        return env | extra

    def settings(self, backends: list[str] | tuple[str, ...], home: str, **extra: str) -> SearchSettings:
        return SearchSettings.from_env({"MEMENTO_HOME": home, **self.env(backends, **extra)})

    def script(self, vendor: str, *replies: Reply) -> None:
        with self._lock:
            self._queues[vendor].extend(replies)

    def respond(self, vendor: str, responder: Callable[[Seen], Reply | None]) -> None:
        """Answer `vendor` with `responder(request)` (None: the usual success) after scripted replies run out."""
        with self._lock:
            self._responders[vendor] = responder

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()
            self._responders.clear()
            for queue in self._queues.values():
                queue.clear()

    def requests(self, vendor: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.vendor == vendor]

    # -- the server ----------------------------------------------------------------------------

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            queue = self._queues[seen.vendor]
            if queue:
                return queue.popleft()
            responder = self._responders.get(seen.vendor)
        reply = responder(seen) if responder else None
        return reply or Reply(200, success(seen.vendor))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    payload = raw
                self._answer(payload)

            def _answer(self, payload: Any) -> None:
                parts = urlsplit(self.path)
                vendor = next((v for v, p in _ENDPOINTS.items() if parts.path.startswith(p)), None)
                if vendor is None:
                    self.send_error(404)
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(vendor, self.command, parts.path, parse_qs(parts.query), headers, payload, time.monotonic())
                with fake._lock:
                    fake.seen.append(seen)
                reply = fake._next(seen)
                delay = reply.delay_s or fake.delay_s
                if delay:
                    fake._stop.wait(delay)
                body = reply.body
                data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
                kind = "application/json" if not isinstance(body, (str, bytes)) else "text/html; charset=utf-8"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler


def success(vendor: str, pages: list[tuple[str, str, str, str | None]] = PAGES, query: str = "rivers") -> dict:
    if vendor == "searxng":
        return {
            "query": query,
            "number_of_results": 0,
            "results": [
                {
                    "url": u,
                    "title": t,
                    "content": s,
                    "engine": "bing",
                    "engines": ["bing", "google"],
                    "score": 3.0 / (i + 1),
                    "category": "general",
                    "publishedDate": d,
                }
                for i, (t, u, s, d) in enumerate(pages)
            ],
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [],
            "unresponsive_engines": [],
        }
    if vendor == "brave":
        return {
            "type": "search",
            "query": {"original": query, "more_results_available": True},
            "web": {
                "type": "search",
                "family_friendly": True,
                "results": [
                    {
                        "type": "search_result",
                        "title": t,
                        "url": u,
                        "description": s,
                        "language": "en",
                        "family_friendly": True,
                        **({"page_age": f"{d}T08:00:00", "age": "May 1, 2024"} if d else {}),
                    }
                    for t, u, s, d in pages
                ],
            },
        }
    if vendor == "tavily":
        return {
            "query": query,
            "follow_up_questions": None,
            "answer": None,
            "images": [],
            "response_time": 0.8,
            "results": [
                {"title": t, "url": u, "content": s, "score": 0.9 - i / 10, "raw_content": None, **({"published_date": d} if d else {})}
                for i, (t, u, s, d) in enumerate(pages)
            ],
        }
    if vendor == "serper":
        return {
            "searchParameters": {"q": query, "type": "search", "engine": "google"},
            "organic": [
                {"title": t, "link": u, "snippet": s, "position": i + 1, **({"date": d} if d else {})}
                for i, (t, u, s, d) in enumerate(pages)
            ],
            "relatedSearches": [],
            "credits": 1,
        }
    if vendor == "serpapi":
        return {
            "search_metadata": {"id": "fake", "status": "Success", "total_time_taken": 0.5},
            "search_parameters": {"engine": "google", "q": query},
            "search_information": {"organic_results_state": "Results for exact spelling", "total_results": len(pages)},
            "organic_results": [
                {"position": i + 1, "title": t, "link": u, "snippet": s, **({"date": d} if d else {})}
                for i, (t, u, s, d) in enumerate(pages)
            ],
        }
    if vendor == "exa":
        return {
            "requestId": "fake-request",
            "resolvedSearchType": "neural",
            "results": [
                {
                    "id": u,
                    "title": t,
                    "url": u,
                    "publishedDate": f"{d}T00:00:00.000Z" if d else None,
                    "author": None,
                    "score": 0.4,
                    "highlights": [s],
                    "highlightScores": [0.5],
                }
                for t, u, s, d in pages
            ],
            "costDollars": {"total": 0.005},
        }
    raise ValueError(vendor)


def empty(vendor: str) -> Reply:
    bodies = {
        "searxng": {**success("searxng", []), "results": []},
        "brave": {"type": "search", "query": {"original": "rivers"}},  # Brave leaves `web` out when nothing matched
        "tavily": success("tavily", []),
        "serper": success("serper", []),
        "serpapi": {
            "search_metadata": {"id": "fake", "status": "Success"},
            "search_information": {"organic_results_state": "Fully empty"},
            "error": "Google hasn't returned any results for this query.",
        },
        "exa": success("exa", []),
    }
    return Reply(200, bodies[vendor])


def unauthorized(vendor: str) -> Reply:
    bodies = {
        "searxng": "<html><body>401 Authorization Required</body></html>",
        "brave": {
            "type": "ErrorResponse",
            "error": {
                "id": "e1",
                "status": 401,
                "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.",
                "meta": {},
            },
            "time": 1,
        },
        "tavily": {"detail": {"error": "Unauthorized: missing or invalid API key."}},
        "serper": {"message": "Unauthorized.", "statusCode": 401},
        "serpapi": {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"},
        "exa": {"requestId": "e1", "error": "Invalid API key", "tag": "INVALID_API_KEY"},
    }
    return Reply(401, bodies[vendor])


def rate_limited(vendor: str, retry_after: str | None = "1") -> Reply:
    bodies = {
        "searxng": "Too Many Requests",
        "brave": {
            "type": "ErrorResponse",
            "error": {"id": "e2", "status": 429, "code": "RATE_LIMITED", "detail": "Request rate limit exceeded for plan.", "meta": {}},
            "time": 1,
        },
        "tavily": {"detail": {"error": "Rate limit exceeded, slow down."}},
        "serper": {"message": "Too many requests", "statusCode": 429},
        "serpapi": {"error": "Your account has exceeded the hourly throughput limit."},
        "exa": {"error": "rate limit exceeded"},
    }
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(429, bodies[vendor], headers)


def quota(vendor: str) -> Reply:
    replies = {
        "brave": Reply(
            429,
            {
                "type": "ErrorResponse",
                "error": {
                    "id": "e3",
                    "status": 429,
                    "code": "QUOTA_LIMITED",
                    "detail": "Request quota limit exceeded for plan.",
                    "meta": {},
                },
            },
        ),
        "tavily": Reply(432, {"detail": {"error": "This request exceeds your plan's set usage limit. Please upgrade your plan."}}),
        "serper": Reply(400, {"message": "Not enough credits", "statusCode": 400}),
        "serpapi": Reply(429, {"error": "Your account has run out of searches."}),
        "exa": Reply(402, {"error": "You have run out of credits.", "tag": "NO_MORE_CREDITS"}),
    }
    return replies[vendor]


def server_error(vendor: str) -> Reply:
    return Reply(500, {"error": "internal error"} if vendor != "searxng" else "<html>Internal Server Error</html>")


def malformed(vendor: str) -> Reply:
    return Reply(200, "<html><body>Bad gateway, but with a 200</body></html>")


@asynccontextmanager
async def search_client(fake: FakeVendors, home: Path, *backends: str, **extra: str) -> AsyncIterator[Client]:
    """The search server in memory, pointed at the fake vendors, with `backends` in that order."""
    from memento.servers.search.server import build

    async with Client(build(fake.settings(backends, str(home), **extra))) as client:
        yield client
