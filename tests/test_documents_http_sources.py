"""http(s) sources: downloaded within size and time limits from a site the test serves on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests import docgen
from tests.loopback import serving
from tests.mcp_servers import stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("site")
    pdf = docgen.make_pdf(folder).read_bytes()
    routes = {
        "/report.pdf": (200, "application/pdf", pdf),
        "/page.html": (
            200,
            "text/html; charset=utf-8",
            b"<html><head><title>Site</title></head><body><p>served-html-token</p></body></html>",
        ),
        "/big.bin": (200, "application/octet-stream", b"x" * (3 * 1024 * 1024)),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            if self.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop2")
                self.end_headers()
            elif self.path == "/loop2":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif self.path == "/moved":
                self.send_response(301)
                self.send_header("Location", "/report.pdf")
                self.end_headers()
            elif self.path == "/slow":
                time.sleep(3)
                self.send_response(200)
                self.end_headers()
            elif self.path == "/endless":  # no Content-Length: the cap must stop the read
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                try:
                    for _ in range(400):
                        self.wfile.write(b"y" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif self.path in routes:
                status, kind, body = routes[self.path]
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

    with serving(Handler) as base:
        yield base


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path), "MEMENTO_ALLOW_PRIVATE_URLS": "true", **extra}


async def test_a_url_is_downloaded_and_converted_by_its_content(site: str, tmp_path: Path) -> None:
    async with stdio_client_for("documents", env=_env(tmp_path), cwd=tmp_path) as client:
        result = await client.call_tool("read_document", {"source": f"{site}/report.pdf"})
        assert not result.is_error, result.content[0].text
        assert "pdf-page-2-token" in result.content[0].text
        html = await client.call_tool("read_document", {"source": f"{site}/page.html"})
        assert "served-html-token" in html.content[0].text
        moved = await client.call_tool("read_document", {"source": f"{site}/moved"})
        assert moved.structured_content["source"].endswith("/report.pdf")


async def test_download_failures_are_clear_errors(site: str, tmp_path: Path) -> None:
    env = _env(tmp_path, MEMENTO_DOCUMENTS_MAX_BYTES="1MiB", MEMENTO_HTTP_TIMEOUT_S="1")
    cases = {
        "/missing": "HTTP 404",
        "/loop": "Redirect loop",
        "/big.bin": "over the 1,048,576-byte limit",
        "/endless": "over the 1,048,576-byte limit",
        "/slow": "within 1 s",
    }
    async with stdio_client_for("documents", env=env, cwd=tmp_path) as client:
        for path, expected in cases.items():
            result = await client.call_tool("read_document", {"source": site + path})
            assert result.is_error and expected in result.content[0].text, (path, result.content[0].text)
        refused = await client.call_tool("read_document", {"source": "http://127.0.0.1:1/nothing"})
        assert refused.is_error and "Could not connect" in refused.content[0].text


async def test_loopback_urls_are_refused_unless_private_addresses_are_allowed(site: str, tmp_path: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(tmp_path)}, cwd=tmp_path) as client:
        result = await client.call_tool("read_document", {"source": f"{site}/report.pdf"})
        assert result.is_error and "loopback" in result.content[0].text
