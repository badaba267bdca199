"""Local calendar days of UTC instants in any zone, as SQL can bucket them: the zone's UTC offset
is constant between its transitions (daylight saving), so a window is cut into spans of one offset."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo

import numpy as np

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)  # ingest refuses anything older


def _offset(tz: tzinfo, at: datetime) -> int:
    return int(at.astimezone(tz).utcoffset().total_seconds())


def offset_spans(tz: tzinfo, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """[(start, offset seconds)] in time order: from each start (UTC) until the next, local time is
    UTC plus that offset; the first start is `since`. Transitions are found to the minute."""
    spans = [(since, _offset(tz, since))]
    day = timedelta(days=1)
    t = since
    while t < until:
        nxt = min(t + day, until)
        if _offset(tz, nxt) != spans[-1][1]:
            low, high = t, nxt  # offset(low) is the old one, offset(high) the new one
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if _offset(tz, mid) == spans[-1][1] else (low, mid)
            spans.append((high.replace(second=0, microsecond=0), _offset(tz, high)))
        t = nxt
    return spans


def midnight_utc(day: date | datetime | str, tz: tzinfo) -> np.datetime64:
    """The UTC instant a local day starts at (frames hold UTC times), from a date or 'YYYY-MM-DD'."""
    if isinstance(day, datetime):
        day = day.date()
    elif not isinstance(day, date):
        day = date.fromisoformat(str(day)[:10])
    start = datetime.combine(day, time(), tz).astimezone(timezone.utc)
    return np.datetime64(start.replace(tzinfo=None), "s")
