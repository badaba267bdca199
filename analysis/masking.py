"""Phone masking for anything a channel lead or an export sees: +8613812341234 -> 138****1234."""
from __future__ import annotations


def mask_msisdn(msisdn: str | None) -> str:
    """Mask the middle of a number, keeping the first 3 and last 4 national digits."""
    if not msisdn:
        return ""
    digits = "".join(ch for ch in msisdn if ch.isdigit())
    # Chinese numbers are shown the familiar national way, without the +86.
    if msisdn.strip().startswith("+86") or (len(digits) == 13 and digits.startswith("86")):
        digits = digits[2:]
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    # Too short to keep 7 digits and still hide anything: show only the last two.
    return "*" * max(len(digits) - 2, 0) + digits[-2:]
