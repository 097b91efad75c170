"""Pacing requests to a backend: a per-backend rate limit, and how long to wait before a retry.

Vendors count requests per second (Brave's free plan allows one); going over
earns a 429 and sometimes a ban, so requests are paced before they are sent: a
rate of N per second admits a burst of N at once (a `search_many` batch goes out
together), and no sliding second ever holds more than N starts. A retry waits what `Retry-After` says (seconds or an HTTP date), else an
exponential backoff with jitter. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import anyio

__all__ = ["RateLimiter", "backoff_delay", "parse_retry_after"]


class RateLimiter:
    """At most `burst` request starts in any window of `burst / rate` seconds; callers queue in arrival order.

    `burst` defaults to the whole number of requests per second (at least 1): at 5/s a batch of
    5 starts at once and the 6th waits until the first is a second old, so no sliding second ever
    holds more than 5 starts (what vendors count); at 1/s every request is a second after the one
    before. rate <= 0: no limit.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.burst = max(1, int(rate) if burst is None else burst)
        self.window = self.burst / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=self.burst)  # the last `burst` reserved start times
        self._lock = anyio.Lock()

    async def wait(self) -> float:
        """Wait for this request's turn; return how long that took."""
        if not self.window:
            return 0.0
        async with self._lock:  # reserve a slot, then wait outside the lock so later callers can queue behind it
            now = self._clock()
            start = now if len(self._starts) < self.burst else max(now, self._starts[0] + self.window)
            self._starts.append(start)
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
