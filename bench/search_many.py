"""search_many of 5 queries against a fake search backend that takes 200 ms per answer, versus 5 web_search calls.

The backend is the fake Serper on 127.0.0.1 (tests/search_fakes.py) with a fixed
200 ms delay per reply; the search server runs as a real process over stdio,
with the cache off (every call reaches the backend), first with no rate limit,
then with 5 requests/s (SearxNG's pace) and a token bucket of 5: a burst of 5 starts at once, so the
batch should still cost about one latency. Each round uses fresh queries.
Goal: search_many ≈ one latency, not five.
"""

from __future__ import annotations

import os
import sys
import time

import anyio
from _common import ms, percentile, print_header
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.search_fakes import FakeVendors

LATENCY_S = 0.2
ROUNDS = 10
QUERIES = 5


async def measure(fake: FakeVendors, rate: float = 0.0, burst: int = QUERIES) -> tuple[list[float], list[float]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MEMENTO_LOG_LEVEL": "WARNING",
        "MEMENTO_SEARCH_CACHE_TTL_S": "0",
        **fake.env(["serper"]),
        # after the fakes' variables, which lift every limit ("*=0"): the limit measured must be the one set here
        "MEMENTO_SEARCH_RATE_LIMITS": f"serper={rate:g}",
        "MEMENTO_SEARCH_RATE_BURSTS": f"serper={burst}",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "memento.servers.search"], env=env)
    parallel, sequential = [], []
    async with Client(params, mode="legacy") as client:
        await client.call_tool("web_search", {"query": "warm up"})
        for round_ in range(ROUNDS):
            queries = [f"round {round_} phrasing {i}" for i in range(QUERIES)]
            if rate:
                await anyio.sleep(QUERIES / rate + 0.1)  # the previous round's requests have left the window
            started = time.perf_counter()
            result = await client.call_tool("search_many", {"queries": queries, "max_results": 5})
            parallel.append(time.perf_counter() - started)
            if result.is_error or len(result.structured_content["per_query"]) != QUERIES:
                raise RuntimeError(result.content[0].text)
            started = time.perf_counter()
            for query in queries:
                one = await client.call_tool("web_search", {"query": query + " again", "max_results": 5})
                if one.is_error:
                    raise RuntimeError(one.content[0].text)
            sequential.append(time.perf_counter() - started)
    return parallel, sequential


def main() -> None:
    print_header(
        f"search server: search_many of {QUERIES} queries vs {QUERIES} sequential web_search calls, backend latency {LATENCY_S * 1000:.0f} ms"
    )
    with FakeVendors(delay_s=LATENCY_S) as fake:
        parallel, sequential = anyio.run(measure, fake)
        limited, _ = anyio.run(measure, fake, 5.0)
        spaced, _ = anyio.run(measure, fake, 5.0, 1)  # before the token bucket: every request 1/rate after the last
        requests = len(fake.requests("serper"))
    p50_many, p50_seq = percentile(parallel, 50), percentile(sequential, 50)
    print(f"backend requests: {requests} (3 runs x ({ROUNDS} rounds x {QUERIES} queries x 2 ways + 1 warm-up))")
    print(f"search_many, {QUERIES} queries:        p50 {ms(p50_many)}  (min {ms(min(parallel))}, max {ms(max(parallel))})")
    print(f"{QUERIES} x web_search, one by one:   p50 {ms(p50_seq)}  (min {ms(min(sequential))}, max {ms(max(sequential))})")
    print(
        f"search_many at a rate limit of 5/s:  p50 {ms(percentile(limited, 50))}  (min {ms(min(limited))}, max {ms(max(limited))})"
        f"  = {percentile(limited, 50) / LATENCY_S:.2f} x one latency (spacing every request would take {QUERIES - 1} x 200 ms more)"
    )
    print(
        f"search_many at 5/s with a burst of 1:  p50 {ms(percentile(spaced, 50))}  (min {ms(min(spaced))}, max {ms(max(spaced))})"
        "  (the requests spaced 200 ms apart, as before the token bucket)"
    )
    ratio = p50_many / LATENCY_S
    verdict = "MET" if ratio < 1.5 else "NOT MET"
    print(
        f"search_many = {ratio:.2f} x one backend latency; {p50_seq / p50_many:.1f}x faster than sequential   goal ~1 latency -> {verdict}"
    )


if __name__ == "__main__":
    main()
