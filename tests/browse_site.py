"""A small website served on 127.0.0.1 for the browse server's tests and benchmarks.

Articles wrapped in boilerplate (each knows its true main text and its
boilerplate, for the extraction-quality benchmark), a JavaScript-only page,
redirects and a loop, a slow endpoint, a 50 MB page, a gzip bomb, a PDF,
binary garbage, a mislabelled charset, pages whose scripts never settle or
hang, a page opening 1,000 popups, a form for the interactive tools,
"secret" paths that count every hit (the URL guard must keep them at zero),
a page of any size (`/wide?w=30000&h=7900`, optionally with noise),
and attack pages (`/attack/KIND?target=URL`) that try to make the browser
reach a target by every channel it has: navigation, subresources, a
SharedWorker, speculation rules, WebRTC. `connections` counts TCP
connections accepted, so a test can prove a blocked site was never contacted.
Each request is answered by a bounded handler; waits end when the site stops.
The pages themselves are in `tests/browse_pages.py`; this module serves them.
"""

from __future__ import annotations

import gzip
import html
import json
import random
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# The pages live in tests/browse_pages.py; tests and benchmarks import them from here too.
from tests.browse_pages import (
    ARTICLES,
    ATTACK_WORKER,
    ATTACKS,
    BUSY_LOOP,
    FACTS,
    FORM,
    IMPOSTOR,
    INJECTION,
    JS_ONLY,
    LINKS,
    NEVER_SETTLES,
    POPUPS,
    PRIVATE_RESOURCES,
    Article,
    attack_page,
    big_article,
    wide_page,
)

__all__ = ["ARTICLES", "FACTS", "JS_ONLY", "Article", "Site", "attack_page", "big_article"]


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        import brotli

        return brotli.compress(data)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return gzip.compress(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0  # TCP connections accepted

    def process_request(self, request, client_address) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # clients hanging up is normal here
            super().handle_error(request, client_address)


class Site:
    """The site on 127.0.0.1; `hits` counts requests per path, `sent` bytes sent per streaming path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._bomb: bytes | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="memento-site-")
        from tests import docgen

        self.pdf = docgen.make_pdf(Path(self._folder.name)).read_bytes()
        self.big = big_article()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.pages = self._pages()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def connections(self) -> int:
        """TCP connections the site has accepted."""
        return self._server.connections

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._folder.cleanup()

    def _pages(self) -> dict[str, tuple[str, bytes]]:
        pages = {a.path: ("text/html; charset=utf-8", a.html.encode()) for a in [*ARTICLES, self.big]}
        utf8 = "text/html; charset=utf-8"
        pages.update(
            {
                "/js-only": (utf8, JS_ONLY.encode()),
                "/api/facts.json": ("application/json", json.dumps({"facts": FACTS}).encode()),
                "/form": (utf8, FORM.encode()),
                "/never-settles": (utf8, NEVER_SETTLES.encode()),
                "/busy-loop": (utf8, BUSY_LOOP.encode()),
                "/popups": (utf8, POPUPS.encode()),
                "/injection": (utf8, INJECTION.encode()),
                "/impostor": (utf8, IMPOSTOR.encode()),
                "/links": (utf8, LINKS.encode()),
                "/leaky": (utf8, PRIVATE_RESOURCES.format(port=self.port).encode()),
                "/report.pdf": ("application/pdf", self.pdf),
                "/data.json": ("application/json", b'{"rows": [{"city": "Oslo", "json-token": 1}]}'),
                "/garbage": ("text/html", random.Random(5).randbytes(4096)),
                # Declared UTF-8, really Windows-1252: the reader must notice.
                "/mislabelled": (
                    utf8,
                    "<html><head><title>Café</title></head><body><p>Crème brûlée at the café: “charset-token” — naïve.</p></body></html>".encode(
                        "cp1252"
                    ),
                ),
                "/plain.txt": ("text/plain; charset=utf-8", b"Plain text page with plain-token.\n"),
            }
        )
        return pages

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, kind: str, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location: str, status: int = 302) -> None:
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _stream(self, path: str, total: int | None, kind: str = "text/html") -> None:
                """Send up to `total` bytes (or endless) until the client stops reading."""
                self.send_response(200)
                self.send_header("Content-Type", kind)
                if total is not None:
                    self.send_header("Content-Length", str(total))
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"<p>" + b"huge " * 13100 + b"</p>\n"
                limit = total if total is not None else 200 * 1024 * 1024
                try:
                    while site.sent[path] < limit and not site.stopping.is_set():
                        self.wfile.write(chunk)
                        site.sent[path] += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path
                site.hits[path] += 1
                if path in site.pages:
                    kind, body = site.pages[path]
                    return self._send(200, kind, body)
                if path.startswith("/redirect/"):
                    left = int(path.rsplit("/", 1)[1])
                    return self._redirect(f"/redirect/{left - 1}" if left > 1 else "/article/1", 301)
                if path in ("/loop-a", "/loop-b"):
                    return self._redirect("/loop-b" if path == "/loop-a" else "/loop-a")
                if path == "/to-localhost":  # into a private address the guard must refuse
                    return self._redirect(f"http://localhost:{site.port}/secret")
                if path == "/redirect-to":
                    return self._redirect(parse_qs(parts.query)["url"][0])
                if path.startswith("/attack/") and path[len("/attack/") :] in ATTACKS:
                    target = parse_qs(parts.query)["target"][0]
                    return self._send(200, "text/html; charset=utf-8", attack_page(path[len("/attack/") :], target))
                if path == "/wide":
                    query = {k: int(v[0]) for k, v in parse_qs(parts.query).items()}
                    return self._send(200, "text/html; charset=utf-8", wide_page(query["w"], query["h"], query.get("noise", 0)))
                if path == "/attack-worker.js":
                    return self._send(200, "text/javascript", ATTACK_WORKER.encode())
                if path == "/browsers-only":  # refuses clients that do not look like a browser
                    if "Chrome" not in self.headers.get("User-Agent", ""):
                        return self._send(403, "text/html", b"<html><body><h1>Forbidden</h1></body></html>")
                    return self._send(200, "text/html; charset=utf-8", ARTICLES[1].html.encode())
                if path.startswith("/status/"):
                    code = int(path.rsplit("/", 1)[1])
                    return self._send(code, "text/html", f"<html><body><h1>Error {code}</h1></body></html>".encode())
                if path == "/slow":
                    site.stopping.wait(30)  # longer than any test's timeout; ends when the site stops
                    return self._send(200, "text/html", b"<html><body><p>late</p></body></html>")
                if path == "/huge":
                    return self._stream(path, 50 * 1024 * 1024)
                if path == "/endless":
                    return self._stream(path, None)
                if path == "/gzip-bomb":  # 50 MB of spaces in about 50 KB
                    with site._lock:
                        if site._bomb is None:
                            site._bomb = gzip.compress(b" " * (50 * 1024 * 1024), compresslevel=9)
                    return self._send(200, "text/html", site._bomb, {"Content-Encoding": "gzip"})
                if path in ("/gzip-article", "/br-article", "/zstd-article"):
                    encoding = path[1:].split("-")[0]
                    body = _compress(ARTICLES[0].html.encode(), encoding)
                    return self._send(200, "text/html; charset=utf-8", body, {"Content-Encoding": encoding})
                if path == "/hello":
                    name = html.escape(parse_qs(parts.query).get("name", ["stranger"])[0])
                    return self._send(
                        200,
                        "text/html; charset=utf-8",
                        f"<html><head><title>Hello</title></head><body><h1>Hello, {name}!</h1><a href='/form'>Again</a></body></html>".encode(),
                    )
                if path.startswith("/secret"):
                    return self._send(200, "text/plain", b"secret")
                self._send(404, "text/html", b"<html><body><h1>Not found</h1></body></html>")

        return Handler
