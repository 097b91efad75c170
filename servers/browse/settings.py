"""Settings of the browse server (`MEMENTO_BROWSE_*`): every limit of fetching, rendering and browsing."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import ByteSize, Field, field_validator

from memento.servers.common.settings import CommonSettings, shown_as


def _default_chromium() -> str:
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or ""


class BrowseSettings(CommonSettings):
    browse_max_bytes: ByteSize = Field(
        default=ByteSize(20 * 1024**2),
        description="Largest page or document downloaded, e.g. 20MiB; larger ones are refused at the limit, unread.",
    )
    browse_max_redirects: int = Field(default=10, ge=0, le=50, description="Most redirects followed for one fetch.")
    browse_cache_ttl_s: float = Field(
        default=3600.0, ge=0, description="Seconds a fetched page is reused from the on-disk HTTP cache (0 turns it off)."
    )
    browse_cache_max_bytes: ByteSize = Field(
        default=ByteSize(512 * 1024**2), description="Disk space of the HTTP cache under MEMENTO_HOME/cache/http."
    )
    browse_memory_cache_bytes: ByteSize = Field(
        default=ByteSize(64 * 1024**2),
        description="Memory for extracted pages, so reading a page part by part extracts (or renders) it once.",
    )
    chromium_path: str = shown_as(
        "/usr/bin/chromium when present",
        default_factory=_default_chromium,
        description="Chromium executable Playwright drives; empty means Playwright's own build (`playwright install chromium`).",
    )
    browser_user_agent: str = shown_as(
        "(Chromium's own)",
        default="",
        description="User-Agent of the browser; empty keeps Chromium's own (MEMENTO_USER_AGENT is for plain HTTP).",
    )
    browse_page_timeout_s: float = Field(default=20.0, gt=0, description="Time limit of one browser page load or action, in seconds.")
    browse_action_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for an element to be clickable or editable in browser_click/browser_type."
    )
    browse_settle_s: float = Field(default=3.0, ge=0, description="Longest wait after load for a page's scripts and requests to go quiet.")
    browse_max_pages: int = Field(default=4, ge=1, le=64, description="Browser pages working at once (renders, screenshots, actions).")
    browse_max_sessions: int = Field(default=8, ge=1, le=256, description="Interactive browsing sessions open at once.")
    browse_session_idle_s: float = Field(default=900.0, gt=0, description="An interactive session unused this long is closed.")
    browse_max_tabs: int = Field(default=5, ge=1, le=50, description="Tabs one interactive session may hold; further popups are closed.")
    browse_viewport: str = Field(default="1280x800", pattern=r"^\d{2,5}x\d{2,5}$", description="Browser window size, WIDTHxHEIGHT.")
    browse_screenshot_max_height: int = Field(
        default=8000, ge=100, le=30000, description="Tallest full-page screenshot, in pixels; taller pages are cut."
    )
    browse_screenshot_max_width: int = Field(
        default=2560, ge=100, le=30000, description="Widest full-page screenshot, in pixels; wider pages are cut at the right."
    )
    browse_screenshot_max_bytes: ByteSize = Field(
        default=ByteSize(4 * 1024**2),
        description="Largest screenshot PNG; a bigger one is retaken shorter (the top of the page) until it fits.",
    )
    browse_auto_render_chars: int = Field(
        default=300, ge=0, description="render='auto' renders a page whose main text is shorter than this and needs scripts."
    )
    browse_convert_timeout_s: float = Field(
        default=60.0, gt=0, description="Time limit of converting one non-HTML document (PDF, Office…), in seconds."
    )
    browse_convert_memory_limit: ByteSize = Field(
        default=ByteSize(2 * 1024**3), description="Address-space limit of the document conversion worker process."
    )
    browse_ocr: bool = Field(default=False, description="Run Tesseract OCR on fetched images (slow; needs tesseract).")

    @field_validator("chromium_path", mode="after")
    @classmethod
    def _expand(cls, value: str) -> str:
        return str(Path(value).expanduser()) if value else ""

    @property
    def viewport(self) -> dict[str, int]:
        width, height = self.browse_viewport.split("x")
        return {"width": int(width), "height": int(height)}

    @property
    def http_cache_dir(self) -> Path:
        return self.cache_dir / "http"
