"""Browse server speed: static fetch + extract of a 200 KB article, rendered fetch with a warm browser,
20 concurrent fetches (throughput, peak memory (PSS) of this process and its children: the
Playwright driver and Chromium), and full-page screenshots of a normal and of a 30,000 x 7,900 px page
(time, PNG size, peak memory). `python bench/browse_fetch.py render screenshot` runs only those sections. Runs the server in memory through the official MCP client against the test
site on 127.0.0.1, with the caches off so every call fetches (the cached path is timed separately)."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import anyio
import psutil
from _common import ms, percentile, print_header  # first: it puts the project on sys.path
from mcp import Client

from memento.convert.formats.markup import html_to_markdown
from memento.servers.browse.extract import extract_main
from memento.servers.browse.server import build
from memento.servers.browse.settings import BrowseSettings
from memento.servers.common.urls import UrlPolicy
from memento.servers.common.webclient import WebClient
from tests.browse_site import Site

STATIC_RUNS = 40
RENDER_RUNS = 15
CONCURRENT = 20


class PeakMemory:
    """Samples the memory (PSS) of this process plus all its descendants every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:  # PSS: pages shared between Chromium's processes are counted once, not once per process
                total += process.memory_full_info().pss
            except (psutil.Error, AttributeError):
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(0.05)

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def mib(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB"


async def timed(client: Client, runs: int, **arguments) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        reply = await client.call_tool("fetch_page", arguments)
        times.append(time.perf_counter() - started)
        if reply.is_error:
            raise RuntimeError(reply.content[0].text)
    return times


def line(label: str, times: list[float]) -> None:
    print(f"  {label:<52} p50 {ms(percentile(times, 50)):>10}   p90 {ms(percentile(times, 90)):>10}   min {ms(min(times)):>10}")


async def static(site: Site, home: Path) -> None:
    big = site.big
    size = len(big.html.encode())
    print(f"Static fetch + extract of a {size / 1000:.0f} KB article ({STATIC_RUNS} runs each; goal: p50 < 80 ms)")
    settings = BrowseSettings(home=home / "static", allowed_hosts=["127.0.0.1"], browse_cache_ttl_s=0)
    async with Client(build(settings)) as client:
        await timed(client, 3, url=site.url(big.path), render="never")
        line("fetch_page(render='never') through MCP", await timed(client, STATIC_RUNS, url=site.url(big.path), render="never"))
        line(
            "  with a query (chunk + BM25 ranking)",
            await timed(client, STATIC_RUNS, url=site.url(big.path), render="never", query="coastal sensors change"),
        )
    web = WebClient(policy=UrlPolicy(allow_hosts=frozenset({"127.0.0.1"})), user_agent="bench", timeout_s=10, max_bytes=10**8)
    fetch_times = []
    for _ in range(STATIC_RUNS):
        started = time.perf_counter()
        await web.get(site.url(big.path), use_cache=False)
        fetch_times.append(time.perf_counter() - started)
    await web.aclose()
    line("  of which: HTTP GET (guarded client)", fetch_times)
    extract_times, baseline_times = [], []
    for _ in range(STATIC_RUNS):
        started = time.perf_counter()
        extract_main(big.html, site.url(big.path))
        extract_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        html_to_markdown(big.html)
        baseline_times.append(time.perf_counter() - started)
    line("  of which: main-content extraction (trafilatura)", extract_times)
    line("comparison: whole page to Markdown (documents reader)", baseline_times)
    cached = BrowseSettings(home=home / "cached", allowed_hosts=["127.0.0.1"])
    async with Client(build(cached)) as client:
        await timed(client, 1, url=site.url(big.path), render="never")
        line("a page already read (cache on, the default)", await timed(client, STATIC_RUNS, url=site.url(big.path), render="never"))
    print()


async def rendered(site: Site, home: Path) -> None:
    print(f"Rendered fetch with a warm browser ({RENDER_RUNS} runs each; goal: p50 < 700 ms)")
    settings = BrowseSettings(home=home / "render", allowed_hosts=["127.0.0.1"], browse_cache_ttl_s=0)
    async with Client(build(settings)) as client:
        await timed(client, 2, url=site.url("/article/1"), render="always")  # starts Chromium
        line("fetch_page(render='always'), 6 KB article", await timed(client, RENDER_RUNS, url=site.url("/article/1"), render="always"))
        line("fetch_page(render='auto'), JavaScript-only page", await timed(client, RENDER_RUNS, url=site.url("/js-only")))
        line("comparison: same article, render='never'", await timed(client, RENDER_RUNS, url=site.url("/article/1"), render="never"))
    print()


async def concurrent(site: Site, home: Path) -> None:
    print(f"{CONCURRENT} concurrent fetches (distinct URLs, caches off)")
    settings = BrowseSettings(home=home / "concurrent", allowed_hosts=["127.0.0.1"], browse_cache_ttl_s=0)
    paths = ["/article/1", "/article/2", "/article/3", "/article/4", site.big.path]
    async with Client(build(settings)) as client:
        await timed(client, 1, url=site.url("/article/1"), render="always")  # warm: Chromium started
        for render in ("never", "always"):
            urls = [site.url(f"{paths[n % len(paths)]}?n={n}") for n in range(CONCURRENT)]
            failures = []

            async def one(url: str, render: str = render, failures: list = failures) -> None:
                reply = await client.call_tool("fetch_page", {"url": url, "render": render})
                if reply.is_error:
                    failures.append(reply.content[0].text)

            with PeakMemory() as memory:
                baseline = memory.peak
                started = time.perf_counter()
                async with anyio.create_task_group() as group:
                    for url in urls:
                        group.start_soon(one, url)
                elapsed = time.perf_counter() - started
            label = "HTTP + extract" if render == "never" else f"rendered, {settings.browse_max_pages} pages at once"
            print(
                f"  render={render!r:<9} ({label}): {elapsed:.2f} s wall, {CONCURRENT / elapsed:.1f} pages/s; "
                f"peak memory {mib(memory.peak)} PSS (before: {mib(baseline)}; server, driver and Chromium processes)"
                + (f"; {len(failures)} failed: {failures[0][:120]}" if failures else "")
            )
    print()


SCREENSHOT_RUNS = 3


async def screenshots(site: Site, home: Path) -> None:
    print(f"Full-page screenshots with a warm browser ({SCREENSHOT_RUNS} runs each)")
    settings = BrowseSettings(home=home / "shots", allowed_hosts=["127.0.0.1"], browse_cache_ttl_s=0)
    async with Client(build(settings)) as client:
        await client.call_tool("screenshot", {"url": site.url("/article/1")})  # starts Chromium
        for label, path in (("6 KB article", "/article/1"), ("30,000 x 7,900 px page", "/wide?w=30000&h=7900")):
            times, sizes = [], []
            with PeakMemory() as memory:
                baseline = memory.peak
                for _ in range(SCREENSHOT_RUNS):
                    started = time.perf_counter()
                    reply = await client.call_tool("screenshot", {"url": site.url(path), "full_page": True})
                    times.append(time.perf_counter() - started)
                    image = next((c for c in reply.content if c.type == "image"), None)
                    sizes.append(len(image.data) * 3 // 4 if image else 0)
            print(
                f"  {label:<24} p50 {ms(percentile(times, 50))}, PNG {max(sizes) / 1e6:.2f} MB; "
                f"peak memory {mib(memory.peak)} PSS (before: {mib(baseline)})"
            )
    print()


SECTIONS = {"static": static, "render": rendered, "concurrent": concurrent, "screenshot": screenshots}


async def main() -> None:
    print_header("browse server: fetch, render, concurrency, screenshots")
    chosen = [SECTIONS[name] for name in sys.argv[1:]] or list(SECTIONS.values())
    with Site() as site, tempfile.TemporaryDirectory(prefix="memento-bench-browse-") as tmp:
        for section in chosen:
            await section(site, Path(tmp))


if __name__ == "__main__":
    sys.exit(anyio.run(main))
