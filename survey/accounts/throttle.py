"""Sign-in throttling: after a few wrong passwords an account is locked for a while, longer each
time, so guessing a password online takes years while a user who mistypes waits minutes."""
from __future__ import annotations

from datetime import datetime, timedelta

FREE_ATTEMPTS = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)


def locked_until(failures: int, now: datetime) -> datetime | None:
    """When sign-in opens again after this many wrong passwords in a row (None: it is open)."""
    if failures < FREE_ATTEMPTS:
        return None
    return now + min(FIRST_LOCK * 2 ** (failures - FREE_ATTEMPTS), LONGEST_LOCK)
