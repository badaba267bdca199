"""The survey engine on the test database with a stand-in SMPP client: every rule, moved by the clock."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from channels.models import Interaction, Subscriber
from channels.services import record_interactions
from smpp.config import ClientConfig
from smpp.messages import InboundMessage as SmppInbound, SubmitResult
from smpp.reassembly import Concat, Fragment
from smpp.receipts import DeliveryReceipt, ReceiptStatus
from survey.jobs import replies
from survey.definitions import load_surveys
from survey.models import (Answer, InboundFragment, InboundMessage, InboundReceipt, OutboundMessage,
                           OutboundSegment, SurveySession)
from survey.policy import PolicyConfig
from survey.states import InboundState, MessagePurpose, OutboundState, ReceiptState, SessionState
from survey.jobs.worker import Worker
from tests.survey.fake_smpp import FakeClient

SH = ZoneInfo("Asia/Shanghai")
PHONE = "+8613812341234"


@pytest.fixture
def policy():
    return PolicyConfig(tz=SH, survey_by_channel={"hotline": "csat-default"})


@pytest.fixture
def worker(runtime, policy, outlets):
    return Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def ingest(db, clock, external_id, ended_at, *, outlet="S001", msisdn=PHONE):
    result = record_interactions(db, [{"source": "crm", "external_id": external_id, "msisdn": msisdn,
                                       "outlet": outlet, "business_type": "宽带",
                                       "ended_at": ended_at.isoformat(), "tier": "金卡"}],
                                 now=clock.now(), tz=SH)
    db.commit()
    assert result.created == 1


def reply(worker, text, msisdn=PHONE.lstrip("+")):
    worker.client.on_replies([SmppInbound(source=msisdn, destination="10655", text=text, data_coding=8)])


def step(worker, clock, **advance):
    if advance:
        clock.advance(**advance)
    worker.run_once(clock.now())
    worker.client.ack_all()
    worker.record(clock.now())


def session_of(db) -> SurveySession:
    db.expire_all()
    return db.scalars(select(SurveySession).order_by(SurveySession.id.desc())).first()


def texts(worker):
    return [m.text for m in worker.client.sent]


def test_friday_2230_hotline_call_is_texted_at_0800_saturday(worker, db, clock):
    clock.set(local(2026, 11, 20, 22, 31))
    ingest(db, clock, "h1", local(2026, 11, 20, 22, 30), outlet="HL1")
    step(worker, clock)
    assert worker.client.sent == []
    assert session_of(db).scheduled_for == local(2026, 11, 21, 8, 0)
    step(worker, clock, hours=9, minutes=28)  # 07:59
    assert worker.client.sent == []
    step(worker, clock, minutes=1)
    assert len(worker.client.sent) == 1
    assert "10086热线中心" in worker.client.sent[0].text and worker.client.sent[0].destination == "8613812341234"
    assert session_of(db).state is SessionState.SENT


def test_a_dissatisfied_answer_asks_the_reason_then_thanks_and_tags_the_answers(worker, db, clock):
    ingest(db, clock, "s1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "4")
    step(worker, clock, minutes=3)
    assert "原因" in texts(worker)[-1]
    assert session_of(db).state is SessionState.WAITING
    reply(worker, "排队太久了 服务态度也不好")
    step(worker, clock, minutes=2)
    session = session_of(db)
    assert session.state is SessionState.COMPLETED
    assert "感谢" in texts(worker)[-1]
    answers = {a.question: a for a in db.scalars(select(Answer).where(Answer.session_id == session.id))}
    assert answers["satisfaction"].value == 4
    assert set(answers["reason"].reasons) == {"wait_time", "attitude"}
    assert answers["reason"].text == "排队太久了 服务态度也不好"
    tags = answers["satisfaction"]
    assert (tags.channel, tags.outlet_code, tags.region, tags.city, tags.business_type) == (
        "store", "S001", "华东", "上海", "宽带")
    assert tags.attributes == {"tier": "金卡"}
    assert tags.response_seconds == 180
    assert session.segments_sent == 3  # question, reason question, thanks: one segment each


def test_a_reason_in_the_first_reply_completes_at_once(worker, db, clock):
    ingest(db, clock, "s2", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "４ 排队太久")
    step(worker, clock, minutes=1)
    assert session_of(db).state is SessionState.COMPLETED
    assert len(worker.client.sent) == 2


def test_td_mid_survey_ends_it_confirms_once_and_blocks_future_surveys(worker, db, clock):
    ingest(db, clock, "o1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "5")
    step(worker, clock, minutes=1)
    reply(worker, "TD")
    step(worker, clock, minutes=1)
    assert session_of(db).state is SessionState.OPTED_OUT
    assert [m.purpose for m in db.scalars(select(OutboundMessage).order_by(OutboundMessage.id))] == [
        MessagePurpose.QUESTION, MessagePurpose.QUESTION, MessagePurpose.OPTOUT_CONFIRM]
    assert db.scalar(select(Subscriber.opted_out_at).where(Subscriber.msisdn == PHONE)) == clock.now()
    clock.advance(days=40)
    ingest(db, clock, "o2", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    assert db.scalar(select(Interaction.decision).where(Interaction.external_id == "o2")) == "opted_out"
    assert len(worker.client.sent) == 3


def test_td_before_the_reason_question_went_out_cancels_it(worker, db, clock):
    ingest(db, clock, "o3", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "4")
    worker.replies(clock.now())  # the reason question is stored, not yet dispatched
    reply(worker, "TD")
    worker.replies(clock.now())
    db.expire_all()
    states = {(m.purpose, m.question): m.state for m in db.scalars(select(OutboundMessage))}
    assert states[(MessagePurpose.QUESTION, "reason")] is OutboundState.CANCELLED
    assert states[(MessagePurpose.OPTOUT_CONFIRM, None)] is OutboundState.PENDING
    worker.dispatch(clock.now())
    assert "退订" in texts(worker)[-1] and not any("原因" in t for t in texts(worker))


def test_a_second_interaction_three_days_later_is_skipped_as_fatigue(worker, db, clock):
    ingest(db, clock, "f1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    clock.advance(days=3)
    ingest(db, clock, "f2", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    decisions = dict(db.execute(select(Interaction.external_id, Interaction.decision)).all())
    assert decisions == {"f1": "surveyed", "f2": "fatigue"}


def test_an_unclear_reply_gets_one_reask(worker, db, clock):
    ingest(db, clock, "u1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "你们是谁")
    step(worker, clock, minutes=1)
    reply(worker, "好的")
    step(worker, clock, minutes=1)
    assert len(worker.client.sent) == 2 and "抱歉" in texts(worker)[1]
    reply(worker, "2")
    step(worker, clock, minutes=1)
    assert session_of(db).state is SessionState.COMPLETED


def test_a_reply_after_the_window_is_unmatched(worker, db, clock):
    ingest(db, clock, "w1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    step(worker, clock, hours=24, minutes=1)
    assert session_of(db).state is SessionState.EXPIRED
    reply(worker, "1")
    step(worker, clock, minutes=1)
    inbound = db.scalars(select(InboundMessage)).one()
    assert inbound.state is InboundState.UNMATCHED and inbound.session_id is None
    assert db.scalar(select(func.count()).select_from(Answer)) == 0


def test_an_opt_out_in_an_unmatched_reply_is_still_honoured(worker, db, clock):
    reply(worker, "别再发短信了", msisdn="8613900001111")
    step(worker, clock)
    assert db.scalar(select(Subscriber.opted_out_at).where(Subscriber.msisdn == "+8613900001111")) is not None


def test_an_smsc_redelivery_is_not_a_second_answer(worker, db, clock):
    ingest(db, clock, "d1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "4")
    reply(worker, "4")  # our deliver_sm_resp was lost; the SMSC sends it again
    step(worker, clock, seconds=30)
    states = [i.state for i in db.scalars(select(InboundMessage).order_by(InboundMessage.id))]
    assert states == [InboundState.PROCESSED, InboundState.DUPLICATE]
    reply(worker, "4")  # after the reason question, "4" is a new answer (unresolved)
    step(worker, clock, seconds=30)
    assert session_of(db).state is SessionState.COMPLETED


def test_a_restart_resends_only_messages_whose_ack_was_lost(worker, runtime, policy, db, clock):
    ingest(db, clock, "r1", clock.now() - timedelta(minutes=10), msisdn="+8613800000001")
    ingest(db, clock, "r2", clock.now() - timedelta(minutes=10), msisdn="+8613800000002")
    worker.run_once(clock.now())
    assert len(worker.client.sent) == 2
    first, lost = worker.client.unacked
    worker.client.unacked = [first]
    worker.client.ack_all()
    worker.record(clock.now())
    # The worker dies here: the second message's ack never arrived. A new worker starts.
    restarted = Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient)
    assert restarted.recover() == 1
    restarted.run_once(clock.now())
    assert [m.key for m in restarted.client.sent] == [lost.key]


def parts_of(text: str, total: int, *, ref: int = 7) -> list[Fragment]:
    """A UCS2 reply cut into total parts, as a handset would send it."""
    body, size = text.encode("utf-16-be"), -(-len(text) // total) * 2
    return [Fragment(PHONE.lstrip("+"), "10655", Concat(ref, total, i + 1), body[i * size:(i + 1) * size], 8)
            for i in range(total)]


def test_a_multipart_reply_survives_a_restart_between_its_parts(worker, runtime, policy, db, clock):
    ingest(db, clock, "m1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    first, second = parts_of("4分，排队太久了", 2)
    worker.client.on_replies([second])  # acknowledged to the SMSC; then the worker dies
    restarted = Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient)
    clock.advance(minutes=1)
    restarted.client.on_replies([first])
    restarted.client.on_replies([second])  # the SMSC missed our answer and sends the part again
    step(restarted, clock, seconds=10)
    (inbound,) = db.scalars(select(InboundMessage))
    assert (inbound.text, inbound.state, inbound.error) == ("4分，排队太久了", InboundState.PROCESSED, None)
    assert session_of(db).state is SessionState.COMPLETED
    assert [(a.question, a.value, a.reasons) for a in db.scalars(select(Answer))] == [
        ("satisfaction", 4, ["wait_time"])]


def test_a_reply_the_code_cannot_handle_is_set_aside_and_the_others_go_on(worker, db, clock, monkeypatch):
    for i, msisdn in enumerate(["+8613800000001", "+8613800000002", "+8613800000003"]):
        ingest(db, clock, f"x{i}", clock.now() - timedelta(minutes=10), msisdn=msisdn)
    step(worker, clock)
    real_parse = replies.parse_reply

    def parse(question, text, **options):
        if text == "boom":
            raise RuntimeError("a bug the reply uncovers")
        return real_parse(question, text, **options)

    monkeypatch.setattr(replies, "parse_reply", parse)
    for msisdn, text in [("8613800000001", "1"), ("8613800000002", "boom"), ("8613800000003", "2")]:
        reply(worker, text, msisdn)
    assert worker.replies(clock.now()) == {"answer": 2, "error": 1}
    db.expire_all()
    outcome = {m.text: (m.state, m.error) for m in db.scalars(select(InboundMessage))}
    assert outcome["boom"] == (InboundState.ERROR, "RuntimeError: a bug the reply uncovers")
    assert outcome["1"][0] is outcome["2"][0] is InboundState.PROCESSED
    assert worker.replies(clock.now()) == {}  # set aside for good, not retried every run


def test_nul_characters_in_a_reply_are_dropped_so_every_database_stores_it(worker, db):
    reply(worker, "\x005\x00")
    worker.client.on_replies(parts_of("4\x00分，排队", 2))
    db.expire_all()
    assert sorted(db.scalars(select(InboundMessage.text))) == ["4分，排队", "5"]


def test_a_reply_whose_parts_stop_arriving_is_kept_as_an_incomplete_reply(worker, db, clock):
    ingest(db, clock, "m2", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    first, _, third = parts_of("不满意，排队太久了，态度差", 3)  # 不满意，排 | 队太久了， | 态度差
    worker.client.on_replies([first])
    worker.client.on_replies([third])
    step(worker, clock, minutes=5)
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 0  # still waiting for part 2
    step(worker, clock, minutes=6)  # past the 10-minute reassembly time to live
    (inbound,) = db.scalars(select(InboundMessage))
    assert (inbound.text, inbound.error) == ("不满意，排态度差", "incomplete: 1 of 3 parts never arrived")
    assert inbound.state is InboundState.PROCESSED
    step(worker, clock, minutes=11)  # joined parts are forgotten a time to live later
    assert db.scalar(select(func.count()).select_from(InboundFragment)) == 0


def test_a_first_question_still_waiting_when_quiet_hours_begin_waits_for_the_morning(worker, db, clock):
    clock.set(local(2026, 11, 18, 20, 50))
    ingest(db, clock, "q1", local(2026, 11, 18, 20, 49))  # due 20:54, before quiet hours
    worker.evaluate(clock.now())
    clock.set(local(2026, 11, 18, 21, 2))  # but nothing was dispatched until 21:02
    assert worker.dispatch(clock.now()) == 0
    db.expire_all()
    (message,) = db.scalars(select(OutboundMessage))
    assert (message.state, message.due_at) == (OutboundState.PENDING, local(2026, 11, 19, 8, 0))
    clock.set(local(2026, 11, 19, 8, 0))
    assert worker.dispatch(clock.now()) == 1


def test_dispatch_claims_no_more_than_two_seconds_of_sending(runtime, policy, db, clock, outlets):
    config = ClientConfig("127.0.0.1", 2775, "touchpoint", "secret", tps=5)
    worker = Worker(runtime, client_config=config, surveys=load_surveys(), policy=policy, client_factory=FakeClient)
    for i in range(25):
        ingest(db, clock, f"b{i}", clock.now() - timedelta(minutes=10), msisdn=f"+861380000{i:04d}")
    worker.evaluate(clock.now())
    assert worker.dispatch(clock.now()) == 10  # two seconds at 5 per second
    assert worker.dispatch(clock.now()) == 0  # none of them acked yet
    worker.client.ack_all()
    assert [worker.dispatch(clock.now()) for _ in range(2)] == [10, 0]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(OutboundMessage).where(
        OutboundMessage.state == OutboundState.PENDING)) == 5


def test_a_receipt_stored_before_a_crash_is_matched_after_the_restart(worker, runtime, policy, db, clock):
    ingest(db, clock, "c1", clock.now() - timedelta(minutes=10))
    step(worker, clock)  # the question is sent and its ack recorded
    (smsc_id,) = db.scalars(select(OutboundSegment.smsc_id)).all()
    worker.client.on_replies([DeliveryReceipt(message_id=smsc_id, status=ReceiptStatus.DELIVERED)])
    # Stored and acknowledged to the SMSC; the worker dies before matching it.
    restarted = Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient)
    restarted.record(clock.now())
    db.expire_all()
    assert db.scalar(select(OutboundMessage.state)) is OutboundState.DELIVERED
    assert db.scalar(select(InboundReceipt.state)) is ReceiptState.MATCHED


def test_a_receipt_whose_ack_never_comes_is_given_up_after_ten_minutes(worker, db, clock):
    worker.client.on_replies([DeliveryReceipt(message_id="FFFF", status=ReceiptStatus.DELIVERED)])
    worker.record(clock.now())
    clock.advance(minutes=9)
    worker.record(clock.now())
    assert db.scalar(select(InboundReceipt.state)) is ReceiptState.RECEIVED  # may still overtake its ack
    clock.advance(minutes=1)
    worker.record(clock.now())
    db.expire_all()
    assert db.scalar(select(InboundReceipt.state)) is ReceiptState.UNMATCHED
    assert not worker.has_events()


def test_receipts_settle_messages_whatever_the_id_form_even_before_the_ack(worker, db, clock):
    ingest(db, clock, "k1", clock.now() - timedelta(minutes=10))
    worker.run_once(clock.now())
    message = worker.client.unacked[0]
    worker.client.on_replies([DeliveryReceipt(message_id=str(0x1000), status=ReceiptStatus.DELIVERED)])
    worker.record(clock.now())  # the receipt overtook the ack: held, not lost
    worker.client.ack_all()  # the ack says "1000" (hex); the receipt said 4096 (decimal)
    worker.record(clock.now())
    db.expire_all()
    stored = db.get(OutboundMessage, int(message.key))
    assert stored.state is OutboundState.DELIVERED
    assert tuple(db.execute(select(OutboundSegment.smsc_id, OutboundSegment.smsc_id_alt)).one()) == ("1000", "4096")


def test_a_permanent_failure_fails_the_session_and_a_survey_past_its_end_stops(worker, db, clock):
    ingest(db, clock, "p1", clock.now() - timedelta(minutes=10))
    worker.run_once(clock.now())
    message = worker.client.unacked.pop()
    worker.client.on_submitted(SubmitResult(message.key, 1, 1, None, 0x0B, True))  # ESME_RINVDSTADR
    worker.record(clock.now())
    assert session_of(db).state is SessionState.FAILED
    assert db.get(OutboundMessage, int(message.key)).smpp_status == 0x0B


def test_a_two_part_message_is_delivered_only_when_both_parts_are_acked_and_receipted(worker, db, clock):
    ingest(db, clock, "mp1", clock.now() - timedelta(minutes=10))
    worker.run_once(clock.now())
    message = worker.client.unacked.pop()
    # A normal SMSC order: part 1 acked, part 1 receipted, only then part 2 acked.
    worker.client.on_submitted(SubmitResult(message.key, 1, 2, "A1", 0, False))
    worker.record(clock.now())
    worker.client.on_replies([DeliveryReceipt(message_id="A1", status=ReceiptStatus.DELIVERED)])
    worker.record(clock.now())
    assert db.get(OutboundMessage, int(message.key)).state is OutboundState.SUBMITTING
    worker.client.on_submitted(SubmitResult(message.key, 2, 2, "A2", 0, False))
    worker.record(clock.now())
    db.expire_all()
    stored = db.get(OutboundMessage, int(message.key))
    assert (stored.state, stored.segments) == (OutboundState.ACKED, 2)
    assert (session_of(db).state, session_of(db).segments_sent) == (SessionState.SENT, 2)
    worker.client.on_replies([DeliveryReceipt(message_id="A2", status=ReceiptStatus.DELIVERED)])
    worker.record(clock.now())
    db.expire_all()
    assert db.get(OutboundMessage, int(message.key)).state is OutboundState.DELIVERED
    assert set(db.scalars(select(InboundReceipt.state))) == {ReceiptState.MATCHED}


def test_a_failed_part_receipted_before_the_last_ack_fails_the_message_once_it_is_acked(worker, db, clock):
    ingest(db, clock, "mp2", clock.now() - timedelta(minutes=10))
    worker.run_once(clock.now())
    message = worker.client.unacked.pop()
    worker.client.on_submitted(SubmitResult(message.key, 1, 2, "B1", 0, False))
    worker.client.on_replies([DeliveryReceipt(message_id="B1", status=ReceiptStatus.UNDELIVERABLE)])
    worker.record(clock.now())
    worker.client.on_submitted(SubmitResult(message.key, 2, 2, "B2", 0, False))
    worker.record(clock.now())
    db.expire_all()
    stored = db.get(OutboundMessage, int(message.key))
    assert (stored.state, stored.segments) == (OutboundState.UNDELIVERED, 2)
    assert db.scalar(select(func.count()).select_from(OutboundSegment)) == 2
    assert (session_of(db).state, session_of(db).segments_sent) == (SessionState.SENT, 2)


def test_the_ack_of_a_first_question_is_applied_where_every_step_is(worker, db, clock, monkeypatch):
    """Acked goes through steps.handle like every event, so its actions are carried out."""
    from survey import machine
    from survey.jobs import steps

    def advance(survey, snapshot, event):
        step = machine.advance(survey, snapshot, event)
        if isinstance(event, machine.Acked):
            return machine.Step(step.state, step.question, step.reasks, (machine.SendThanks(),))
        return step

    monkeypatch.setattr(steps, "advance", advance)
    ingest(db, clock, "ak1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    db.expire_all()
    assert session_of(db).state is SessionState.SENT
    assert [m.purpose for m in db.scalars(select(OutboundMessage).order_by(OutboundMessage.id))] == [
        MessagePurpose.QUESTION, MessagePurpose.THANKS]


def test_a_question_whose_reply_is_stored_is_not_sent_again_after_a_crash(worker, runtime, policy, db, clock):
    ingest(db, clock, "q1", clock.now() - timedelta(minutes=10))
    worker.run_once(clock.now())  # the first question goes out; its ack is lost in the crash
    clock.advance(seconds=20)
    reply(worker, "4")  # the subscriber got it and answered: stored, not yet parsed
    restarted = Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient)
    restarted.recover()
    clock.advance(seconds=1)
    restarted.dispatch(clock.now())  # dispatch may run before the replies job
    assert restarted.client.sent == []
    restarted.replies(clock.now())
    restarted.dispatch(clock.now())
    assert ["不满意原因" in m.text for m in restarted.client.sent] == [True]
    restarted.client.ack_all()
    restarted.record(clock.now())
    clock.advance(seconds=30)
    reply(restarted, "排队太久")
    step(restarted, clock, seconds=5)
    assert session_of(db).state is SessionState.COMPLETED
    assert [(a.question, a.value, a.reasons) for a in db.scalars(select(Answer).order_by(Answer.id))] == [
        ("satisfaction", 4, []), ("reason", None, ["wait_time"])]


def test_a_second_answer_to_a_question_sent_twice_is_not_taken_for_the_next_one(worker, db, clock):
    ingest(db, clock, "q2", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    clock.advance(seconds=20)
    reply(worker, "4")
    worker.replies(clock.now())  # the reason question is stored, not yet submitted
    clock.advance(seconds=5)
    reply(worker, "4分 不满意")  # the subscriber answers the satisfaction question again
    step(worker, clock, seconds=1)
    clock.advance(seconds=30)
    reply(worker, "态度很差")
    step(worker, clock, seconds=5)
    assert session_of(db).state is SessionState.COMPLETED
    assert [(a.question, a.value, a.reasons) for a in db.scalars(select(Answer).order_by(Answer.id))] == [
        ("satisfaction", 4, []), ("reason", None, ["attitude"])]
    second = db.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()[1]
    assert (second.state, second.error) == (InboundState.DUPLICATE, "a second answer to 'satisfaction'")


def test_an_ack_journaled_before_a_crash_is_recorded_at_the_restart_not_sent_again(runtime, policy, db, clock,
                                                                                   outlets, tmp_path):
    from smpp.ack_journal import AckJournal

    worker = Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy, client_factory=FakeClient,
                    journal=AckJournal(tmp_path / "journal"))
    ingest(db, clock, "j1", clock.now() - timedelta(minutes=10))
    worker.run_once(clock.now())
    worker.client.ack_all()  # the SMSC acked; the worker dies before the recorder commits it
    restarted = Worker(runtime, client_config=None, surveys=load_surveys(), policy=policy,
                       client_factory=FakeClient, journal=AckJournal(tmp_path / "journal"))
    assert restarted.recover() == 0
    restarted.run_once(clock.now())
    assert restarted.client.sent == []
    assert session_of(db).state is SessionState.SENT
    assert restarted.journal.files() == []


def test_an_over_long_message_id_in_an_ack_does_not_stop_ack_recording(worker, db, clock):
    for i in range(3):
        ingest(db, clock, f"L{i}", clock.now() - timedelta(minutes=10), msisdn=f"+861380000{i:04d}")
    worker.run_once(clock.now())
    first, second, third = worker.client.unacked
    worker.client.on_submitted(SubmitResult(first.key, 1, 1, "7" * 5000, 0, False))
    worker.client.on_submitted(SubmitResult(second.key, 1, 1, "2A", 0, False))
    worker.record(clock.now())
    worker.client.on_submitted(SubmitResult(third.key, 1, 1, "2B", 0, False))
    worker.record(clock.now())
    db.expire_all()
    assert [db.get(OutboundMessage, int(m.key)).state for m in (first, second, third)] == [OutboundState.ACKED] * 3
    assert not worker.has_events()


def test_an_ack_that_cannot_be_recorded_is_set_aside_and_the_others_go_on(worker, db, clock, monkeypatch):
    from survey.jobs import acks

    for i in range(3):
        ingest(db, clock, f"P{i}", clock.now() - timedelta(minutes=10), msisdn=f"+8613800010{i:03d}")
    worker.run_once(clock.now())
    poison = worker.client.unacked[1].key
    real = acks.record_submit_results

    def record_submit_results(db, results, **kwargs):
        if any(r.key == poison for r in results):
            raise ValueError("a bug this ack uncovers")
        return real(db, results, **kwargs)

    monkeypatch.setattr(acks, "record_submit_results", record_submit_results)
    worker.client.ack_all()
    worker.record(clock.now())
    assert not worker.has_events()  # not retried at every run
    db.expire_all()
    messages = db.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
    assert [m.state for m in messages] == [OutboundState.ACKED, OutboundState.SUBMITTING, OutboundState.ACKED]
    assert messages[1].error == "ack of part 1 not recorded: ValueError: a bug this ack uncovers"
    worker.stop()  # a graceful stop after it raises nothing


def test_a_receipt_that_cannot_be_matched_is_set_aside_and_the_others_go_on(worker, db, clock, monkeypatch):
    from survey.jobs import receipts

    ingest(db, clock, "R0", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    (smsc_id,) = db.scalars(select(OutboundSegment.smsc_id)).all()
    real = receipts.record_receipts

    def record_receipts(db, receipts, **kwargs):
        if any(r.message_id == "BAD" for r in receipts):
            raise ValueError("a bug this receipt uncovers")
        return real(db, receipts, **kwargs)

    monkeypatch.setattr(receipts, "record_receipts", record_receipts)
    worker.client.on_replies([DeliveryReceipt(message_id="BAD", status=ReceiptStatus.DELIVERED),
                              DeliveryReceipt(message_id=smsc_id, status=ReceiptStatus.DELIVERED)])
    worker.record(clock.now())
    assert not worker.has_events()
    db.expire_all()
    assert [r.state for r in db.scalars(select(InboundReceipt).order_by(InboundReceipt.id))] == [
        ReceiptState.UNMATCHED, ReceiptState.MATCHED]
    assert db.scalar(select(OutboundMessage.state)) is OutboundState.DELIVERED


def test_a_text_labelled_in_the_review_queue_is_read_as_labelled_by_the_engine(worker, db, clock):
    from survey.review import label

    label(db, load_surveys(), survey="csat-default", question="reason", texts=["那个小哥哥整个人云里雾里的"], kind="answer",
          reasons=["competence"], user="manager", now=clock.now(), reparse=False)
    db.commit()
    ingest(db, clock, "lb1", clock.now() - timedelta(minutes=10))
    step(worker, clock)
    reply(worker, "4")
    step(worker, clock, seconds=30)
    reply(worker, "那个小哥哥整个人云里雾里的")
    step(worker, clock, seconds=30)
    assert [(a.question, a.reasons) for a in db.scalars(select(Answer).order_by(Answer.id))] == [
        ("satisfaction", []), ("reason", ["competence"])]


@pytest.mark.parametrize("how", ["do_not_survey", "opted_out"])
def test_a_number_listed_after_its_survey_was_scheduled_is_not_texted(worker, db, clock, how):
    # 22:30 on a Friday: the survey waits for 08:00, and the number is put on the do-not-survey list
    # (or opts out by replying to another survey) in the night. The morning's dispatch must not text it.
    clock.set(local(2026, 11, 20, 22, 31))
    ingest(db, clock, "h1", local(2026, 11, 20, 22, 30), outlet="HL1")
    step(worker, clock)
    assert session_of(db).state is SessionState.SCHEDULED
    subscriber = db.scalar(select(Subscriber).where(Subscriber.msisdn == PHONE))
    if how == "do_not_survey":
        subscriber.do_not_survey = True
    else:
        subscriber.opted_out_at, subscriber.opt_out_source = clock.now(), "reply to session 0"
    db.commit()
    step(worker, clock, hours=9, minutes=30)  # 08:01
    assert worker.client.sent == []
    assert session_of(db).state is SessionState.FAILED
    assert {m.state for m in db.scalars(select(OutboundMessage))} == {OutboundState.CANCELLED}
