"""The ESME client against the simulator over loopback TCP: the issue's acceptance scenarios."""
from __future__ import annotations

import threading
import time
from collections import Counter

from smpp import wire
from smpp.config import BindMode
from smpp.messages import OutgoingMessage
from smpp.reassembly import Fragment, assemble
from smpp.receipts import ReceiptStatus, message_id_candidates
from smpp.misbehaving import DisconnectingSMSC, LostAckSMSC, ThrottlingSMSC
from smpp.simulator import Action, SMSCSimulator, SimulatorConfig
from smpp.subscribers import always

PHONE = "86138{:08d}"


def _messages(n: int, *, long_every: int = 0) -> list[OutgoingMessage]:
    out = []
    for i in range(n):
        text = f"请对本次服务评价：回复1非常满意 #{i}"
        if long_every and i % long_every == 0:
            text = f"{i}:" + "尊敬的客户，感谢您今天到营业厅办理业务。" * 8
        out.append(OutgoingMessage(key=f"m{i}", destination=PHONE.format(i), text=text,
                                   ref=i % 256))
    return out


def test_thousand_messages_window_10_all_acked_and_receipted(smsc, make_client, collector):
    client = make_client(smsc.port, window=10)
    for message in _messages(1000):
        client.submit(message)
    assert client.wait_idle(30)
    assert len(collector.results) == 1000
    assert all(r.ok for r in collector.results)
    assert collector.wait(lambda c: len(c.receipts) >= 1000, 30)
    # Receipt ids are decimal, submit_sm_resp ids hex: they still pair up one to one.
    acked = {cand: r.key for r in collector.results for cand in message_id_candidates(r.message_id)}
    matched = {acked[next(c for c in message_id_candidates(rc.message_id) if c in acked)]
               for rc in collector.receipts}
    assert len(matched) == 1000
    assert all(rc.status is ReceiptStatus.DELIVERED for rc in collector.receipts)
    assert len(smsc.log) == 1000


def test_window_keeps_w_submits_outstanding(make_client, collector):
    with SMSCSimulator(SimulatorConfig(ack_latency_s=0.02, receipts=False)) as smsc:
        client = make_client(smsc.port, window=10)
        started = time.monotonic()
        for message in _messages(100):
            client.submit(message)
        assert client.wait_idle(10)
        elapsed = time.monotonic() - started
    assert smsc.stats.max_outstanding == 10
    assert elapsed < 100 * 0.02 / 2  # far below stop-and-wait's 2 s


def test_chinese_200_characters_goes_as_three_ucs2_segments(smsc, make_client, collector):
    text = ("您好！感谢您今天光临徐汇1号营业厅办理套餐变更业务。为了持续改进服务质量，" * 6)[:200]
    assert len(text) == 200
    client = make_client(smsc.port)
    client.submit(OutgoingMessage("zh", "8613800000000", text, ref=77))
    assert client.wait_idle(5)
    assert [(r.segment_index, r.total_segments) for r in collector.results] == [(1, 3), (2, 3),
                                                                                (3, 3)]
    (entry,) = smsc.log
    assert entry.text == text
    assert entry.segments == 3 and entry.data_coding == 8
    assert len(set(entry.message_ids)) == 3


def test_long_message_with_sar_option(smsc, make_client, collector):
    client = make_client(smsc.port, use_sar=True)
    client.submit(OutgoingMessage("sar", "8613800000000", "a" * 400, ref=0x1234))
    assert client.wait_idle(5)
    assert smsc.log[0].text == "a" * 400 and smsc.log[0].segments == 3


def test_three_part_reply_out_of_order_is_stored_once(smsc, make_client, collector):
    make_client(smsc.port)
    text = "5 " + "我上午十点到营业厅办理补换卡业务，等了一个多小时才轮到我，态度也很差。" * 5
    smsc.send_mo("8613800000009", "10655", text, order=[3, 1, 2])
    assert collector.wait(lambda c: c.inbound, 5)
    assert smsc.wait_until(lambda s: s.stats.deliveries_acked >= 3, 5)
    (message,) = collector.inbound
    assert message.text == text
    assert (message.segments, message.source, message.destination) == (3, "8613800000009",
                                                                       "10655")


def test_reply_with_sar_tlvs_is_reassembled(smsc, make_client, collector):
    make_client(smsc.port)
    smsc.send_mo("8613800000009", "10655", "排队太久" * 40, order=[2, 1, 3], use_sar=True)
    assert collector.wait(lambda c: c.inbound, 5)
    assert collector.inbound[0].text == "排队太久" * 40


def test_reply_that_cannot_be_stored_is_refused_and_retried(smsc, make_client, collector):
    make_client(smsc.port)
    collector.fail_inbound = 2
    smsc.send_mo("8613800000009", "10655", "５")
    smsc.send_mo("8613800000008", "10655", "不满意 排队太久" * 20, order=[2, 3, 1])
    assert collector.wait(lambda c: len(c.inbound) == 2, 5)
    assert smsc.stats.deliveries_refused == 2
    assert sorted(m.text for m in collector.inbound) == sorted(["５", "不满意 排队太久" * 20])


def test_with_on_fragment_each_part_goes_to_storage_and_a_refused_part_comes_again(
        smsc, make_client, collector):
    parts: list[Fragment] = []
    refused: list[Fragment] = []

    def store(fragment: Fragment) -> None:
        if fragment.concat.seqnum == 2 and not refused:
            refused.append(fragment)
            raise OSError("database is locked")
        parts.append(fragment)

    make_client(smsc.port, on_fragment=store)
    text = "不满意 排队太久" * 20
    smsc.send_mo("8613800000008", "10655", text, order=[3, 2, 1])
    assert smsc.wait_until(lambda s: s.stats.deliveries_acked == 3, 5)
    assert [f.concat.seqnum for f in parts] == [3, 1, 2]  # part 2 refused once, then resent
    assert smsc.stats.deliveries_refused == 1
    assert not collector.inbound  # nothing was joined in memory
    assert assemble(parts) == text


def test_a_slow_store_delays_only_the_answer_to_the_reply(make_client, collector):
    collector.inbound_gate = threading.Event()
    with SMSCSimulator(SimulatorConfig(receipts=False)) as smsc:
        client = make_client(smsc.port, window=5)
        smsc.send_mo("8613800000009", "10655", "5")
        assert collector.inbound_started.wait(5)
        client.submit_many(_messages(50))
        assert client.wait_idle(5)  # acks flow while the reply is still being stored
        assert smsc.stats.deliveries_acked == 0
        collector.inbound_gate.set()
        assert smsc.wait_until(lambda s: s.stats.deliveries_acked == 1, 5)
    assert [m.text for m in collector.inbound] == ["5"] and client.stats.inbound == 1


def test_stop_waits_for_the_acks_of_submits_in_flight(make_client, collector):
    with SMSCSimulator(SimulatorConfig(ack_latency_s=0.2, receipts=False)) as smsc:
        client = make_client(smsc.port, window=10)
        client.submit_many(_messages(5))
        assert smsc.wait_until(lambda s: len(s.log) == 5, 5)
        assert not collector.results  # accepted by the SMSC, acks still on their way
        client.stop()
        assert [r.ok for r in collector.results] == [True] * 5
        assert smsc.stats.unbinds == 1


def test_stop_answers_the_replies_being_stored_before_unbinding(smsc, make_client, collector):
    collector.inbound_gate = threading.Event()
    client = make_client(smsc.port)
    smsc.send_mo("8613800000009", "10655", "满意")
    assert collector.inbound_started.wait(5)
    # Let the store finish only once stop() has begun, so stop must wait for it.
    threading.Thread(target=lambda: client._stopping.wait(5) and collector.inbound_gate.set()).start()
    client.stop()
    assert smsc.wait_until(lambda s: s.stats.deliveries_acked == 1, 5)
    assert (smsc.stats.deliveries_refused, smsc.stats.unbinds) == (0, 1)


def test_connection_dropped_mid_run_delivers_every_message_exactly_once(make_client, collector):
    with DisconnectingSMSC(SimulatorConfig(redeliver_delay_s=0.05), at=(150, 151, 400)) as smsc:
        client = make_client(smsc.port, window=10)
        messages = _messages(600, long_every=25)
        for message in messages:
            client.submit(message)
        assert client.wait_idle(30)
        assert smsc.stats.drops == 3
        assert client.stats.reconnects >= 2
        assert all(r.ok for r in collector.results)
        counts = Counter((e.destination, e.text) for e in smsc.log)
        assert counts == Counter((m.destination, m.text) for m in messages)
        # Receipts are at-least-once too: one whose deliver_sm_resp was cut off comes again.
        assert collector.wait(lambda c: len({r.message_id for r in c.receipts})
                              == smsc.stats.accepted_segments, 10)


def test_random_disconnects_lose_and_duplicate_nothing(make_client, collector):
    with DisconnectingSMSC(SimulatorConfig(seed=5), probability=0.01) as smsc:
        client = make_client(smsc.port, window=10)
        messages = _messages(300)
        for message in messages:
            client.submit(message)
        assert client.wait_idle(30)
        assert smsc.stats.drops >= 1
        assert sorted(e.text for e in smsc.log) == sorted(m.text for m in messages)


def test_lost_ack_is_resubmitted_at_least_once(make_client, collector):
    # Documented behaviour: the SMSC accepted submit #5 but its ack was lost with the
    # connection, so the client submits it again; the caller sees one result per segment.
    with LostAckSMSC(at=(5,)) as smsc:
        client = make_client(smsc.port, window=1)
        for message in _messages(10):
            client.submit(message)
        assert client.wait_idle(10)
        counts = Counter(e.text for e in smsc.log)
    assert len(collector.results) == 10 and all(r.ok for r in collector.results)
    assert sorted(counts.values()) == [1] * 9 + [2]


def test_response_timeout_retries(make_client, collector):
    class SilentOnce(SMSCSimulator):
        def decide(self, session, number):
            return Action.IGNORE if number == 1 else Action.ACCEPT

    with SilentOnce() as smsc:
        client = make_client(smsc.port, response_timeout_s=0.2)
        client.submit(OutgoingMessage("t", "8613800000000", "hello"))
        assert client.wait_idle(5)
    assert collector.results[0].ok
    assert client.stats.timeouts == 1


def test_throttling_slows_the_sender_instead_of_failing(make_client, collector):
    with ThrottlingSMSC(SimulatorConfig(receipts=False), max_tps=200) as smsc:
        client = make_client(smsc.port, window=10, tps=None, retry_min_s=0.02)
        started = time.monotonic()
        for message in _messages(300):
            client.submit(message)
        assert client.wait_idle(20)
        elapsed = time.monotonic() - started
    assert all(r.ok for r in collector.results) and len(collector.results) == 300
    assert smsc.stats.throttled > 0
    # Backing off means far fewer refusals than messages; hammering would be refused constantly.
    assert smsc.stats.throttled < 150
    assert elapsed >= 0.9 * (300 - 200) / 200


def test_every_nth_throttled_is_retried(make_client, collector):
    with ThrottlingSMSC(every=7) as smsc:
        client = make_client(smsc.port)
        for message in _messages(70):
            client.submit(message)
        assert client.wait_idle(10)
    assert all(r.ok for r in collector.results)
    assert client.stats.throttled == smsc.stats.throttled >= 10


def test_permanent_error_is_reported_once_with_the_status(make_client, collector):
    class Rejecting(SMSCSimulator):
        def decide(self, session, number):
            return Action.REJECT

    with Rejecting() as smsc:
        client = make_client(smsc.port)
        client.submit(OutgoingMessage("bad", "8613800000000", "x"))
        assert client.wait_idle(5)
    (result,) = collector.results
    assert (result.ok, result.status, result.permanent) == (False, 0x45, True)


def test_a_message_that_cannot_be_encoded_fails_alone(smsc, make_client, collector):
    client = make_client(smsc.port)
    client.submit_many([OutgoingMessage("ok1", "8613800000001", "1"),
                        OutgoingMessage("bad", "86138000000011234567890", "2"),
                        OutgoingMessage("ok2", "8613800000002", "3")])
    assert client.wait_idle(5)
    outcome = {r.key: (r.ok, r.status, r.permanent) for r in collector.results}
    assert outcome == {"ok1": (True, 0, False), "ok2": (True, 0, False),
                       "bad": (False, wire.RINVDSTADR, True)}
    assert [entry.destination for entry in smsc.log] == ["8613800000001", "8613800000002"]


def test_tps_limits_the_rate(smsc, make_client, collector):
    client = make_client(smsc.port, tps=100)
    started = time.monotonic()
    for message in _messages(51):
        client.submit(message)
    assert client.wait_idle(10)
    assert time.monotonic() - started >= 0.45


def test_garbage_pdu_does_not_end_the_session(smsc, make_client, collector):
    client = make_client(smsc.port)
    smsc.send_raw(bytes.fromhex("00000010 00000999 00000000 00000007"))  # unknown command id
    broken = bytearray(wire.build("deliver_sm", sequence=8, source_addr="1", destination_addr="2",
                                  short_message=b"5") + b"\x04")  # a TLV cut after one byte
    broken[:4] = len(broken).to_bytes(4, "big")
    smsc.send_raw(bytes(broken))
    assert smsc.wait_until(lambda s: s.stats.nacks_received == 1, 5)
    client.submit(OutgoingMessage("after", "8613800000000", "still here"))
    assert client.wait_idle(5)
    assert collector.results[0].ok
    assert client.stats.reconnects == 0 and client.stats.malformed == 2
    assert not collector.inbound  # the broken deliver_sm was answered with an error, not stored
    assert smsc.stats.binds == 1


def test_transmitter_and_receiver_binds(smsc, make_client, collector):
    client = make_client(smsc.port, bind_mode=BindMode.TRANSMITTER_RECEIVER)
    client.submit(OutgoingMessage("tr", "8613800000000", "hi"))
    assert client.wait_idle(5)
    assert collector.wait(lambda c: c.receipts, 5)
    assert smsc.stats.binds == 2


def test_enquire_link_keepalive_and_unbind_on_stop(smsc, make_client, collector):
    client = make_client(smsc.port, enquire_link_s=0.05)
    assert smsc.wait_until(lambda s: s.stats.enquire_links >= 2, 5)
    client.stop()
    assert smsc.stats.unbinds == 1
    assert not client.bound


def test_wrong_password_is_not_bound(smsc, collector):
    from smpp.client import SmppClient
    from tests.smpp.conftest import client_config

    client = SmppClient(client_config(smsc.port, password="wrong"),
                        on_submitted=collector.on_submitted)
    client.start()
    try:
        assert not client.wait_bound(0.3)
        assert smsc.wait_until(lambda s: s.stats.bind_failures >= 2, 5)  # and it keeps trying
    finally:
        client.stop()


def test_simulated_subscribers_reply(make_client, collector):
    config = SimulatorConfig(replies=True, reply_delay_s=0.01, reply_fn=always("４ 排队太久"))
    with SMSCSimulator(config) as smsc:
        client = make_client(smsc.port)
        client.submit(OutgoingMessage("q", "8613800000000", "请回复1-5"))
        assert collector.wait(lambda c: c.inbound, 5)
    assert collector.inbound[0].text == "４ 排队太久"
    assert collector.inbound[0].source == "8613800000000"
