"""Pacing requests to a backend: a token bucket per backend, and how long to wait before a retry.

Vendors count requests per second (Brave's free plan allows one); going over earns a 429 and
sometimes a ban, so requests wait for a token before they are sent. A bucket holds `burst`
tokens and refills at `rate` per second (aiolimiter's leaky bucket): a `search_many` batch of up
to `burst` queries goes out at once, later requests are spaced 1/rate apart. A retry waits what
`Retry-After` says (seconds or an HTTP date), else an exponential backoff with jitter.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from aiolimiter import AsyncLimiter

__all__ = ["RateLimiter", "backoff_delay", "parse_retry_after"]


class RateLimiter:
    """A token bucket: `burst` requests may start at once, then one every 1/`rate` seconds; callers queue in arrival order.

    `burst` defaults to the whole number of requests per second (at least 1). rate <= 0: no limit.
    Over any window of T seconds at most burst + rate x T requests start.
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = max(0.0, rate)
        self.burst = max(1, int(rate) if burst is None else burst)
        self._bucket: AsyncLimiter | None = None
        if self.rate:
            # The bucket binds to the running loop on first use. aiolimiter counts `max_rate` per `time_period`: a bucket of `burst` that drains at `rate`.
            self._bucket = AsyncLimiter(self.burst, self.burst / self.rate)

    def has_token(self) -> bool:
        """Whether a request could start now without waiting."""
        return self._bucket is None or self._bucket.has_capacity()

    async def wait(self) -> float:
        """Wait for this request's token; return how long that took (0.0 when one was free)."""
        if self._bucket is None or self._bucket.has_capacity():
            if self._bucket is not None:
                await self._bucket.acquire()  # capacity is there: returns without waiting
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self._bucket.acquire()
        return max(loop.time() - started, 1e-9)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(base_s: float, attempt: int, rng: random.Random | None = None) -> float:
    """base, 2·base, 4·base… for attempts 0, 1, 2…, each with up to 25% jitter so clients do not retry in step."""
    jitter = 1 + 0.25 * (rng or random).random()
    return base_s * (2**attempt) * jitter
