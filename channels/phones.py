"""Phone numbers: normalise to E.164 with the phonenumbers metadata, and mask for display."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

_SEPARATORS = re.compile(r"[\s\-().\u3000]")
# What is left once separators are gone: digits (full-width ones too) after an optional "+". No
# letters, so no extension ("ext 5", "#5") the library would quietly drop and no vanity spelling.
_DIGITS = re.compile(r"\+?\d+")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class PhoneError(ValueError):
    """The text is not a mobile number of the expected region."""


@lru_cache(maxsize=8)
def _fast_path(region: str) -> tuple[re.Pattern[str], re.Pattern[str], str]:
    """Patterns for the common case, taken from phonenumbers' own metadata so both paths agree."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    code = str(metadata.country_code)
    shape = re.compile(rf"(?:\+{code}|00{code}|{code})?(\d+)", re.ASCII)
    mobile = re.compile(metadata.mobile.national_number_pattern)
    return shape, mobile, code


def normalize_msisdn(text: str, *, region: str = "CN") -> str:
    """The E.164 form of a mobile number of region ("13812341234" → "+8613812341234")."""
    cleaned = _SEPARATORS.sub("", text or "")
    if not cleaned:
        raise PhoneError("empty")
    if text.lstrip().startswith("-"):  # a minus sign (a number sent as a negative integer), not a separator
        raise PhoneError(f"not a phone number: {text!r}")
    shape, mobile, code = _fast_path(region)
    match = shape.fullmatch(cleaned)
    if match and mobile.fullmatch(match.group(1)):
        return f"+{code}{match.group(1)}"
    if not _DIGITS.fullmatch(cleaned):
        raise PhoneError(f"not a phone number: {text!r}")
    # Unusual forms (a leading 0, a trunk prefix, full-width digits) go through the full library.
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        raise PhoneError(f"not a phone number: {text!r}") from None
    if (
        phonenumbers.region_code_for_number(number) != region
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise PhoneError(f"not a {'mainland ' if region == 'CN' else ''}mobile number: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_E164 = re.compile(r"\+[1-9]\d{6,14}", re.ASCII)


def is_mobile_e164(msisdn: str) -> bool:
    """Whether a stored E.164 number ("+447400123456") is a mobile number of its own country.

    The country comes from the number itself, so this holds whatever region ingest was configured with.
    """
    if not _E164.fullmatch(msisdn or ""):
        return False
    # The fast path normalize_msisdn takes, for the main region of the number's country code
    # (country codes are prefix-free: at most one of the first 1-3 digits is one).
    for length in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(msisdn[1:1 + length]))
        if regions:
            if regions[0] in phonenumbers.SUPPORTED_REGIONS:
                _, mobile, _ = _fast_path(regions[0])
                if mobile.fullmatch(msisdn[1 + length:]):
                    return True
            break
    try:
        number = phonenumbers.parse(msisdn, None)
    except phonenumbers.NumberParseException:
        return False
    return (phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES
            and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == msisdn)


def mask_msisdn(msisdn: str | None) -> str:
    """What a channel lead or an export sees: "+8613812341234" → "138****1234"."""
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
