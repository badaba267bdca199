"""A token bucket that holds the submit rate at the configured TPS, on an injectable monotonic clock."""
from __future__ import annotations

import time
from typing import Callable


class TokenBucket:
    """Tokens refill at `rate` per second up to `capacity`; a rate of 0 or None means unlimited."""

    def __init__(self, rate: float | None, *, capacity: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate or 0.0
        # A small burst keeps the long-run rate honest: a large one front-loads the first second.
        self.capacity = capacity if capacity is not None else max(1.0, self.rate / 50)
        self._monotonic = monotonic
        self._tokens = self.capacity
        self._stamp = monotonic()

    @property
    def unlimited(self) -> bool:
        """True when no rate is configured."""
        return self.rate <= 0

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self, tokens: float = 1.0) -> bool:
        """Take tokens if available now; never blocks."""
        if self.unlimited:
            return True
        self._refill()
        # The epsilon absorbs float drift: a token due "now" must not wait another wake-up.
        if self._tokens >= tokens - 1e-9:
            self._tokens = max(0.0, self._tokens - tokens)
            return True
        return False

    def wait_time(self, tokens: float = 1.0) -> float:
        """Seconds until tokens will be available (0 when they are now)."""
        if self.unlimited:
            return 0.0
        self._refill()
        return max(0.0, (tokens - self._tokens) / self.rate)
