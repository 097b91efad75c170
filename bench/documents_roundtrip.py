"""Tool round trip through one documents server on stdio: after a warm-up, 500 sequential calls
of `document_info` and 500 of `read_document` on a tiny generated text file (converted once,
then served from the server's cache), timed at the client."""

from __future__ import annotations

import time

import anyio
from _common import doc_dir, ms, percentile, print_header, server_params
from mcp import Client

CALLS = 500
WARMUP = 20
GOAL_MS = 5.0
SOURCE = "notes.txt"  # written by docgen.make_text


async def timed_calls(client: Client, tool: str, args: dict, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = await client.call_tool(tool, args)
        times.append(time.perf_counter() - start)
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content[0].text}")
    return times


async def measure(params) -> dict[str, list[float]]:
    calls = {"document_info": {"source": SOURCE}, "read_document": {"source": SOURCE}}
    async with Client(params, mode="legacy") as client:
        for tool, args in calls.items():
            await timed_calls(client, tool, args, WARMUP)  # first call converts; the rest hit the cache
        page = (await client.call_tool("read_document", calls["read_document"])).structured_content["page"]
        if "text-token" not in page["content"]:  # the calls really read the file
            raise RuntimeError(f"unexpected read_document page: {page}")
        return {tool: await timed_calls(client, tool, args, CALLS) for tool, args in calls.items()}


def main() -> None:
    print_header("documents server: tool round trip over stdio (tiny text file, cached)")
    with doc_dir("make_text") as folder:
        results = anyio.run(measure, server_params(folder))
    for tool, times in results.items():
        p50 = percentile(times, 50)
        verdict = "MET" if p50 * 1000 < GOAL_MS else "NOT MET"
        print(
            f"{tool:14} {CALLS} calls: p50 {ms(p50)}   p99 {ms(percentile(times, 99))}   "
            f"(min {ms(min(times))}, max {ms(max(times))})   goal p50 < {GOAL_MS:g} ms -> {verdict}"
        )


if __name__ == "__main__":
    main()
