from __future__ import annotations

import phonenumbers
import pytest

from channels.phones import PhoneError, mask_msisdn, normalize_msisdn


@pytest.mark.parametrize("text", ["13812341234", "+86 138 1234 1234", "8613812341234",
                                  "0086 13812341234", "138-1234-1234", "(+86)13812341234", "１３８１２３４１２３４"])
def test_mainland_mobile_forms_become_e164(text):
    assert normalize_msisdn(text) == "+8613812341234"


@pytest.mark.parametrize("text", ["010-12345678", "+1 650 253 0000", "12345", "1381234123", "23812341234", "", "abc",
                                  "138 1234 1234 ext 5", "13812341234#5", "-13812341234", " -138 1234 1234",
                                  "138ABCD1234"])
def test_non_mobile_or_foreign_numbers_are_rejected(text):
    with pytest.raises(PhoneError):
        normalize_msisdn(text)


@pytest.mark.parametrize("prefix", ["130", "145", "166", "170", "178", "190", "199", "100", "120", "112"])
def test_fast_path_agrees_with_the_library(prefix):
    number = f"{prefix}12345678"
    parsed = phonenumbers.parse(number, "CN")
    library_says_mobile = (phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed)
                           in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE))
    try:
        ours = normalize_msisdn(number)
    except PhoneError:
        ours = None
    assert (ours is not None) == library_says_mobile


def test_masking_shows_only_prefix_and_last_four():
    assert mask_msisdn("+8613812341234") == "138****1234"
    assert mask_msisdn("+16502530000") == "165****0000"
