"""Report results kept for a short while, so reloading a page or coming back to it is instant.

A year of a million answers costs seconds of SQL on SQLite (the aggregation is linear in the
answers; see benchmarks/bench_web.py), while managers reload, switch views and come back to the
same selection many times a minute. Results are frozen dataclasses, so one object serves every
request. An entry is computed again once it is older than `ttl` (by the runtime's clock), and
pages say when their figures were computed. Keys are the service's name and its arguments
(Selection, grouping, view: all hashable), so two viewers with different scopes never share one.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from survey.clock import Clock

T = TypeVar("T")


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A result and when it was computed."""

    value: T
    computed_at: datetime


class ReportCache:
    """A small least-recently-used map of results, each kept for `ttl` (0: keep nothing)."""

    def __init__(self, clock: Clock, *, ttl: timedelta = timedelta(seconds=60), entries: int = 64) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries = entries
        self._items: OrderedDict[Hashable, Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> Cached[T]:
        """The cached result for key, or compute() (outside the lock: a slow page never holds up others)."""
        now = self._clock.now()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit.computed_at < self._ttl:
                self._items.move_to_end(key)
                return hit
        fresh = Cached(compute(), now)
        if self._ttl > timedelta(0):
            with self._lock:
                self._items[key] = fresh
                self._items.move_to_end(key)
                while len(self._items) > self._entries:
                    self._items.popitem(last=False)
        return fresh

    def clear(self) -> None:
        """Forget everything (after an import, say)."""
        with self._lock:
            self._items.clear()
