"""The report cache: results kept for a minute by the runtime's clock, least recently used dropped."""
from __future__ import annotations

from datetime import timedelta

from survey.clock import FrozenClock
from tests.conftest import START


def test_results_are_kept_for_the_ttl_then_computed_again():
    from survey.reports.cache import ReportCache

    clock = FrozenClock(START)
    cache = ReportCache(clock, ttl=timedelta(seconds=60))
    calls = []

    def compute():
        calls.append(clock.now())
        return len(calls)

    assert cache.get(("a",), compute).value == 1
    clock.advance(seconds=59)
    hit = cache.get(("a",), compute)
    assert (hit.value, hit.computed_at) == (1, START)
    assert cache.get(("b",), compute).value == 2  # another key is another result
    clock.advance(seconds=1)
    assert cache.get(("a",), compute).value == 3 and len(calls) == 3


def test_the_least_recently_used_entry_goes_first_and_ttl_zero_keeps_nothing():
    from survey.reports.cache import ReportCache

    clock = FrozenClock(START)
    cache = ReportCache(clock, entries=2)
    counter = iter(range(100))
    for key in ("a", "b", "a", "c"):  # b is the least recently used when c arrives
        cache.get(key, lambda: next(counter))
    assert cache.get("a", lambda: -1).value == 0 and cache.get("b", lambda: -1).value == -1
    off = ReportCache(clock, ttl=timedelta(0))
    assert [off.get("a", lambda: next(counter)).value for _ in range(2)] == [3, 4]
    cache.clear()
    assert cache.get("a", lambda: "fresh").value == "fresh"
