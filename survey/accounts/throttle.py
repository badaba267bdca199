"""Sign-in throttling, per account and per address.

After a few wrong passwords an account is locked for a while, longer each time, so guessing a
password online takes years while a user who mistypes waits minutes. An address whose sign-ins
were refused too often lately (whatever the accounts: trying one common password on every
account stays under each account's limit) is refused until its count over the window drops; the
count comes from the audit log's rows, so all web processes share it."""
from __future__ import annotations

from datetime import datetime, timedelta

FREE_ATTEMPTS = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
ADDRESS_FREE_ATTEMPTS = 20  # refused sign-ins an address may have within ADDRESS_WINDOW
ADDRESS_WINDOW = timedelta(minutes=15)


def locked_until(failures: int, now: datetime) -> datetime | None:
    """When sign-in opens again after this many wrong passwords in a row (None: it is open)."""
    if failures < FREE_ATTEMPTS:
        return None
    return now + min(FIRST_LOCK * 2 ** (failures - FREE_ATTEMPTS), LONGEST_LOCK)


def address_blocked(refused_recently: int) -> bool:
    """True when an address had too many refused sign-ins within ADDRESS_WINDOW."""
    return refused_recently >= ADDRESS_FREE_ATTEMPTS
