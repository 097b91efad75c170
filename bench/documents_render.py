"""render_pages: time per page, for PDF pages (PyMuPDF) and PowerPoint slides (our Pillow drawing),
at two image sizes; the drawing called directly beside the whole tool over stdio in the same run,
with the image bytes a model receives per page."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import anyio
from _common import doc_dir, ms, percentile, print_header, server_params
from mcp import Client

from memento.convert.formats import Blob, ConvertOptions
from memento.convert.formats.render import render

PDF_PAGES = 20  # of the 100-page PDF, each drawn alone
SLIDE_RUNS = 5  # each of the deck's 3 slides, this many times
SIZES = (1568, 768)
MCP_CALLS = 10


def direct(path: Path, fmt: str, numbers: list[int], max_px: int) -> tuple[list[float], list[int]]:
    """Draw each page alone; seconds and PNG bytes per page."""
    blob = Blob(path.read_bytes(), path.name, fmt)
    options = ConvertOptions(image_max_px=max_px)
    times, sizes = [], []
    for number in numbers:
        start = time.perf_counter()
        (picture,) = render(blob, [number], options)
        times.append(time.perf_counter() - start)
        sizes.append(len(picture.data))
    return times, sizes


async def through_server(folder: Path, source: str, pages: list[int]) -> list[float]:
    times = []
    async with Client(server_params(folder), mode="legacy") as client:
        await client.call_tool("render_pages", {"source": source})  # starts a worker
        for number in pages:
            start = time.perf_counter()
            result = await client.call_tool("render_pages", {"source": source, "pages": str(number)})
            times.append(time.perf_counter() - start)
            if result.is_error or len(result.content) != 2:
                raise RuntimeError(f"render_pages of {source} page {number} failed: {result.content[0].text}")
    return times


def line(label: str, times: list[float], sizes: list[int] | None = None) -> str:
    text = f"  {label:<34} p50 {ms(statistics.median(times)):>10}  p95 {ms(percentile(times, 95)):>10}  (n={len(times)})"
    if sizes:
        text += f"  image {statistics.median(sizes) / 1024:,.0f} KiB"
    return text


def main() -> None:
    print_header("documents: render_pages per page")
    with doc_dir("make_long_pdf", "make_pptx") as folder:
        pdf, deck = folder / "long.pdf", folder / "deck.pptx"
        for max_px in SIZES:
            print(f"longest side {max_px} px, drawn directly (no server):")
            print(line("PDF page (A4, text)", *direct(pdf, "pdf", list(range(1, PDF_PAGES + 1)), max_px)))
            print(line("PPTX slide (simplified drawing)", *direct(deck, "pptx", [1, 2, 3] * SLIDE_RUNS, max_px)))
        print("through the server over stdio (1568 px, one page per call, worker warm):")
        pdf_calls = anyio.run(through_server, folder, pdf.name, list(range(1, MCP_CALLS + 1)))
        print(line("render_pages, PDF page", pdf_calls))
        slide_calls = anyio.run(through_server, folder, deck.name, [1, 2, 3] * (MCP_CALLS // 3))
        print(line("render_pages, PPTX slide", slide_calls))


if __name__ == "__main__":
    main()
