"""Pacing requests to a backend: a per-backend rate limit, and how long to wait before a retry.

Vendors count requests per second (Brave's free plan allows one); going over
earns a 429 and sometimes a ban, so requests are spaced out before they are
sent. A retry waits what `Retry-After` says (seconds or an HTTP date), else an
exponential backoff with jitter. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import anyio

__all__ = ["RateLimiter", "backoff_delay", "parse_retry_after"]


class RateLimiter:
    """At most `rate` request starts per second; callers queue in arrival order. rate <= 0: no limit."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = anyio.Lock()

    async def wait(self) -> float:
        """Wait for this request's turn; return how long that took."""
        if not self.interval:
            return 0.0
        async with self._lock:  # reserve a slot, then wait outside the lock so later callers can queue behind it
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            await self._sleep(delay)
        return delay


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
