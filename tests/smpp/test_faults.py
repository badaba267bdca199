"""SMSC faults (issue #16), each a simulator behaviour, against the client over loopback TCP.

Every scenario checks the same outcome: each message acknowledged once to the caller, accepted
exactly once by the SMSC (nothing lost, no copy), and the session back without help. Timeouts
are configured short and the tests wait on the client's and the simulator's events.
"""
from __future__ import annotations

from collections import Counter

import pytest

from smpp import wire
from smpp.messages import OutgoingMessage
from smpp.misbehaving import (BindRefusingSMSC, DisconnectingSMSC, HangingSMSC, NackingSMSC,
                              SlowAckSMSC, StormSMSC)
from smpp.simulator import SimulatorConfig


def _messages(n: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(key=f"f{i}", destination=f"86139{i:08d}", text=f"fault test #{i}")
            for i in range(n)]


def _send_all(client, messages, timeout: float = 20) -> None:
    client.submit_many(messages)
    assert client.wait_idle(timeout)


def _assert_each_once(smsc, collector, messages) -> None:
    results = Counter(r.key for r in collector.results if r.ok)
    assert results == Counter(m.key for m in messages), "every message acked once to the caller"
    accepted = Counter(entry.text for entry in smsc.log)
    assert accepted == Counter(m.text for m in messages), "the SMSC accepted each exactly once"


def test_drop_mid_window_loses_and_repeats_nothing(make_client, collector):
    # Acks take 20 ms, so the window is full when the SMSC closes the connection.
    config = SimulatorConfig(ack_latency_s=0.02, receipts=False)
    with DisconnectingSMSC(config, at=(35, 90)) as smsc:
        client = make_client(smsc.port, window=10)
        messages = _messages(150)
        _send_all(client, messages)
        assert smsc.stats.drops == 2 and smsc.stats.max_outstanding >= 5
        assert client.stats.reconnects >= 2
        _assert_each_once(smsc, collector, messages)


def test_an_ack_later_than_the_response_timeout_settles_the_message(make_client, collector):
    # Submit 3 is acked 0.35 s after it arrived; the client gives up waiting at 0.2 s but holds
    # the resend for another timeout, so the late ack settles it and no copy goes out.
    with SlowAckSMSC(SimulatorConfig(receipts=False), late_s=0.35, at=(3,)) as smsc:
        client = make_client(smsc.port, response_timeout_s=0.2)
        messages = _messages(6)
        _send_all(client, messages)
        assert client.stats.timeouts == 1 and client.stats.extra.get("late_acks") == 1
        _assert_each_once(smsc, collector, messages)


def test_every_ack_late_still_sends_each_message_once(make_client, collector):
    with SlowAckSMSC(SimulatorConfig(receipts=False), late_s=0.3) as smsc:
        client = make_client(smsc.port, response_timeout_s=0.2, window=5)
        messages = _messages(20)
        _send_all(client, messages)
        assert client.stats.timeouts == 20
        _assert_each_once(smsc, collector, messages)


@pytest.mark.parametrize("queue_full", [False, True], ids=["RTHROTTLED", "RMSGQFUL"])
def test_a_throttling_storm_is_waited_out_without_giving_up(make_client, collector, queue_full):
    # max_attempts=3 would fail every message of a 0.6 s storm if refusals counted as attempts.
    with StormSMSC(SimulatorConfig(receipts=False), start=10, duration_s=0.6,
                   queue_full=queue_full) as smsc:
        client = make_client(smsc.port, window=10, max_attempts=3, retry_min_s=0.01,
                             retry_max_s=0.1)
        messages = _messages(60)
        _send_all(client, messages)
        _assert_each_once(smsc, collector, messages)
        # After a refusal the client probes with one submit at a time instead of its whole
        # window: a window of 10 refused at every backoff step would be refused ~60 times.
        assert 5 <= smsc.stats.throttled <= 30


def test_generic_nack_to_a_submit_is_retried(make_client, collector):
    with NackingSMSC(SimulatorConfig(receipts=False), at=(2, 5, 6)) as smsc:
        client = make_client(smsc.port)
        messages = _messages(10)
        _send_all(client, messages)
        _assert_each_once(smsc, collector, messages)
        assert client.stats.retries >= 3 and client.stats.failed == 0


def test_generic_nack_with_a_system_error_is_retried_too(make_client, collector):
    with NackingSMSC(SimulatorConfig(receipts=False), at=(1,), status=wire.RSYSERR) as smsc:
        client = make_client(smsc.port)
        messages = _messages(3)
        _send_all(client, messages)
        _assert_each_once(smsc, collector, messages)


def test_a_bind_refused_for_a_while_is_retried_until_it_binds(make_client, collector):
    with BindRefusingSMSC(SimulatorConfig(receipts=False), refusals=4) as smsc:
        client = make_client(smsc.port)  # waits for the bind
        assert smsc.stats.bind_failures == 4 and client.stats.reconnects == 4
        messages = _messages(5)
        _send_all(client, messages)
        _assert_each_once(smsc, collector, messages)


def test_an_smsc_that_hangs_mid_run_is_left_for_a_new_connection(make_client, collector):
    # The keepalive interval is 60 s: the client notices the hang from the submits that time out
    # (it probes with enquire_link at once), not by waiting for the next idle keepalive.
    with HangingSMSC(SimulatorConfig(receipts=False), at=(25,)) as smsc:
        client = make_client(smsc.port, response_timeout_s=0.2, enquire_link_s=60)
        messages = _messages(60)
        _send_all(client, messages, timeout=10)
        assert client.stats.reconnects == 1 and smsc.stats.binds == 2
        _assert_each_once(smsc, collector, messages)


def test_an_unanswered_enquire_link_reconnects_an_idle_session(smsc, make_client, collector):
    client = make_client(smsc.port, enquire_link_s=0.05, response_timeout_s=0.2)
    smsc.hang_all()
    assert smsc.wait_until(lambda s: s.stats.binds == 2, 5)
    assert client.wait_bound(5) and client.stats.reconnects == 1
    messages = _messages(3)
    _send_all(client, messages)
    _assert_each_once(smsc, collector, messages)
