"""Token bucket on an injected clock: no sleeping."""
from __future__ import annotations

import pytest

from smpp.throttle import TokenBucket


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_is_held_over_time() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(200, capacity=1, monotonic=clock)
    sent = 0
    for _ in range(10_000):  # 10 simulated seconds in 1 ms steps
        while bucket.try_take():
            sent += 1
        clock.now += 0.001
    assert sent == pytest.approx(2000, abs=2)


def test_wait_time_says_when_the_next_token_comes() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(10, capacity=1, monotonic=clock)
    assert bucket.try_take()
    assert not bucket.try_take()
    assert bucket.wait_time() == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.try_take()


def test_burst_is_capped_by_capacity() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(100, capacity=5, monotonic=clock)
    clock.now += 60
    assert sum(bucket.try_take() for _ in range(20)) == 5


def test_no_rate_means_unlimited() -> None:
    bucket = TokenBucket(None, monotonic=FakeMonotonic())
    assert all(bucket.try_take() for _ in range(1000))
    assert bucket.wait_time() == 0
