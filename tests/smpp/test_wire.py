"""The hand-written submit_sm / submit_sm_resp codec against smpplib, the reference encoder."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpp import wire
from smpp.encoding import segment

ADDRESS = st.text("0123456789", max_size=20)


@given(source=ADDRESS, destination=ADDRESS, ton=st.integers(0, 6), npi=st.integers(0, 18),
       registered=st.integers(0, 3), text=st.text(max_size=400), ref=st.integers(0, 0xFFFF),
       use_sar=st.booleans(), sequence=st.integers(0, 0x7FFFFFFF))
def test_submit_sm_is_byte_identical_to_smpplib(source, destination, ton, npi, registered, text,
                                                ref, use_sar, sequence):
    encoded = segment(text, ref=ref, use_sar=use_sar)
    for part in encoded.parts:
        fields = dict(source_addr_ton=ton, source_addr_npi=npi, source_addr=source,
                      dest_addr_ton=1, dest_addr_npi=1, destination_addr=destination,
                      esm_class=encoded.esm_class, data_coding=encoded.data_coding,
                      registered_delivery=registered, short_message=part.short_message)
        ours = wire.submit_sm(**fields, sar=part.sar, sequence=sequence)
        assert ours == wire.build("submit_sm", sequence=sequence, **fields,
                                  **part.optional_params())
        parsed = wire.parse(ours)
        assert (wire.text_field(parsed.destination_addr), parsed.short_message or b"") == (
            destination, part.short_message)


@pytest.mark.parametrize("message_id, status", [("1A2B", wire.ROK), ("0" * 64, wire.ROK),
                                                ("", wire.RTHROTTLED), ("", wire.RSUBMITFAIL)])
def test_submit_sm_resp_matches_smpplib_and_reads_back(message_id, status):
    ours = wire.submit_sm_resp(77, message_id, status)
    fields = {"message_id": message_id} if status == wire.ROK else {}
    assert ours == wire.build("submit_sm_resp", sequence=77, status=status, **fields)
    assert wire.header(ours) == wire.Header(len(ours), wire.SUBMIT_SM_RESP, status, 77)
    assert wire.submit_sm_resp_id(ours) == message_id


@pytest.mark.parametrize("field, value, status", [
    ("destination_addr", "8" * 21, wire.RINVDSTADR),
    ("source_addr", "1" * 21, wire.RINVSRCADR),
    ("short_message", b"x" * 255, wire.RINVMSGLEN),
])
def test_a_value_too_long_for_its_field_names_the_field(field, value, status):
    fields = dict(source_addr_ton=0, source_addr_npi=0, source_addr="10655", dest_addr_ton=1,
                  dest_addr_npi=1, destination_addr="8613800000000", esm_class=0, data_coding=0,
                  registered_delivery=0, short_message=b"hi")
    with pytest.raises(wire.FieldTooLong, match=field) as raised:
        wire.submit_sm(**{**fields, field: value})
    assert raised.value.status == status
