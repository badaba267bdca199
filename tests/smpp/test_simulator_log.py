"""The simulator's timing trace: when each submit_sm was read and acked, when each reply was settled."""
from __future__ import annotations

import time

from smpp.messages import OutgoingMessage
from smpp.misbehaving import LostAckSMSC
from smpp.simulator import SMSCSimulator, SimulatorConfig
from smpp.subscribers import always

LONG = "我上午十点到营业厅办理补换卡业务，等了一个多小时才轮到我，" * 5  # 150 UCS2 characters: 3 parts


def test_each_submit_is_traced_with_the_time_its_ack_was_written(make_client, collector):
    with SMSCSimulator(SimulatorConfig(ack_latency_s=0.02, receipts=False, trace=True)) as smsc:
        client = make_client(smsc.port)
        started = time.monotonic()
        client.submit(OutgoingMessage("a", "8613800000001", "回复1非常满意", ref=1))
        client.submit(OutgoingMessage("b", "8613800000002", LONG, ref=2))
        assert client.wait_idle(5)
        submits, replies = smsc.traces()
    assert replies == []
    assert [t.destination for t in submits] == ["8613800000001"] + ["8613800000002"] * 3
    assert submits[0].text == "回复1非常满意"
    assert "".join(t.text for t in submits[1:]) == LONG
    assert [t.message_id for t in submits[1:]] == list(smsc.log[1].message_ids)
    for trace in submits:
        assert started <= trace.received and trace.responded is not None
        assert trace.responded - trace.received >= 0.015  # the ack latency


def test_a_submit_whose_ack_was_never_written_has_no_response_time(make_client, collector):
    with LostAckSMSC(SimulatorConfig(receipts=False, trace=True), at=(1,)) as smsc:
        client = make_client(smsc.port)
        client.submit(OutgoingMessage("a", "8613800000001", "回复1", ref=1))
        assert client.wait_idle(10)
        submits, _ = smsc.traces()
    assert submits[0].responded is None  # accepted, then the connection was cut before the ack
    assert submits[-1].responded is not None  # the client's resubmit after reconnecting
    assert (submits[0].connection, submits[-1].connection) == (1, 2)


def test_a_reply_is_settled_once_the_esme_acked_every_part(make_client, collector):
    config = SimulatorConfig(receipts=False, replies=True, reply_delay_s=0, trace=True,
                             reply_fn=always(LONG))
    with SMSCSimulator(config) as smsc:
        client = make_client(smsc.port)
        client.submit(OutgoingMessage("a", "8613800000001", "回复1", ref=1))
        assert smsc.wait_until(lambda s: all(t.acked for t in s.traces()[1]) and s.traces()[1], 10)
        _, replies = smsc.traces()
    (reply,) = replies
    assert (reply.source, reply.text, reply.parts) == ("8613800000001", LONG, 3)
    assert reply.sent <= reply.acked and reply.acked_parts == {0, 1, 2}


def test_without_trace_nothing_is_kept(smsc, make_client, collector):
    client = make_client(smsc.port)
    client.submit(OutgoingMessage("a", "8613800000001", "回复1", ref=1))
    assert client.wait_idle(5)
    assert smsc.traces() == ([], [])
