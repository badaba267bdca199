"""Addresses as log lines may show them: a subscriber's number never appears in clear in a log.

smpp imports none of the product's packages, so this is its own copy of the masking rule the
pages and exports use (channels.phones.mask_msisdn): "8613812341234" → "138****1234".
"""
from __future__ import annotations


def mask_address(address: str | None) -> str:
    """The address with all but its first three and last four national digits starred."""
    digits = "".join(ch for ch in address or "" if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # shown the national way, as on the pages
    if len(digits) < 8:
        return "*" * max(len(digits) - 2, 0) + digits[-2:]
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
