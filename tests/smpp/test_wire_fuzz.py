"""Bad input on the SMPP side (issue #16): whatever bytes an SMSC sends, the framer cuts them or
says the stream is unframeable, and every request PDU gets an answer instead of an exception."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from smpp import wire
from smpp.client import ClientStats
from smpp.encoding import ESM_UDHI
from smpp.inbound import InboundHandler, PendingStore

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(chunks=st.lists(st.binary(max_size=80), max_size=12))
@FUZZ
def test_the_framer_yields_whole_frames_or_refuses_the_stream(chunks):
    frames = wire.FrameBuffer()
    out: list[bytes] = []
    try:
        for chunk in chunks:
            frames.feed(chunk)
            while (frame := frames.next_frame()) is not None:
                out.append(frame)
    except wire.FramingError:
        return
    stream = b"".join(chunks)
    # Every frame is the next command_length bytes of the stream, and nothing was skipped.
    assert b"".join(out) == stream[:sum(map(len, out))]
    assert all(wire.header(f).length == len(f) >= wire.HEADER.size for f in out)


def _deliver_sm(esm_class: int, data_coding: int, short_message: bytes) -> bytes:
    return wire.build("deliver_sm", sequence=7, source_addr="8613812345678", destination_addr="10655",
                      esm_class=esm_class, data_coding=data_coding, short_message=short_message)


@st.composite
def broken_deliver_sm(draw) -> bytes:
    """A deliver_sm with any esm_class, data coding and body, then cut, extended or overwritten."""
    frame = bytearray(_deliver_sm(draw(st.sampled_from([0, 0x04, 0x08, ESM_UDHI, 0xFF])),
                                  draw(st.sampled_from([0, 3, 4, 8, 0xF0, 0xFF])),
                                  draw(st.binary(max_size=160))))
    cut = draw(st.integers(wire.HEADER.size, len(frame)))
    del frame[cut:]
    frame += draw(st.binary(max_size=24))  # trailing garbage or a broken TLV
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(wire.HEADER.size, max(wire.HEADER.size, len(frame) - 1)))
        if position < len(frame):
            frame[position] = draw(st.integers(0, 255))
    frame[:4] = len(frame).to_bytes(4, "big")
    return bytes(frame)


@given(frame=broken_deliver_sm(), keep_fragments=st.booleans())
@FUZZ
def test_any_deliver_sm_is_answered_not_raised(frame, keep_fragments):
    handler = InboundHandler(keep_fragments=keep_fragments)
    head = wire.header(frame)
    answer = handler.handle_request(head, frame, ClientStats())
    if isinstance(answer, PendingStore):
        answer = handler.respond(answer, stored=True, stats=ClientStats())
    response = wire.header(answer)
    assert (response.name, response.sequence) == ("deliver_sm_resp", 7)


@given(command_id=st.integers(0, 0xFFFFFFFF), body=st.binary(max_size=64))
@FUZZ
def test_any_request_gets_an_answer_with_its_sequence(command_id, body):
    frame = wire.HEADER.pack(wire.HEADER.size + len(body), command_id, 0, 42) + body
    head = wire.header(frame)
    if head.is_response:
        return  # responses are matched to requests, not answered
    answer = InboundHandler().handle_request(head, frame, ClientStats())
    if answer is None:
        assert head.name == "alert_notification"
        return
    if isinstance(answer, PendingStore):
        assert head.name == "deliver_sm"
        return
    assert wire.header(answer).sequence == 42 and wire.header(answer).is_response
