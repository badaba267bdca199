"""Quiet hours: the first moment at or after a time when a subscriber may be texted."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone, tzinfo


def is_quiet(local: time, start: time, end: time) -> bool:
    """Whether a local time of day falls in [start, end), which may wrap past midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(when: datetime, *, tz: tzinfo, start: time, end: time) -> datetime:
    """when itself outside quiet hours, else the end of the quiet period (UTC, aware)."""
    local = when.astimezone(tz)
    if not is_quiet(local.time(), start, end):
        return when.astimezone(timezone.utc)
    day = local.date()
    if start > end and local.time() >= start:  # evening side of a period that wraps midnight
        day += timedelta(days=1)
    # Build the wall time in tz, so a DST change in the zone is respected.
    resume = datetime.combine(day, end, tzinfo=tz)
    return resume.astimezone(timezone.utc)
