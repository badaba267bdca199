"""The review queue: routes × roles, and a label that changes the parse of its text, re-parses past
answers with an audit row and turns a past unclear reply into the answer its session lacked."""
from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.services import record_interactions
from smpp.messages import InboundMessage as SmppInbound
from survey.definitions import load_surveys
from survey.jobs.worker import Worker
from survey.models import Answer, InboundMessage, ReplyLabel, ReplyReparse
from survey.policy import PolicyConfig
from survey.replies.parser import ReplyKind
from survey.review import load_learned, parse_with_labels, review_queue
from tests.survey.fake_smpp import FakeClient

SH = ZoneInfo("Asia/Shanghai")
SURVEYS = load_surveys()
CSAT = SURVEYS["csat-default"]
OTHER_TEXT = "送的礼品跟宣传的不一样"  # read as `other`: no reason the lexicon or the model knows
UNCLEAR_TEXT = "还凑活吧"  # a typo of 还凑合 the parser cannot read


@pytest.fixture
def worker(runtime, outlets):
    return Worker(runtime, client_config=None, surveys=SURVEYS, policy=PolicyConfig(tz=SH), client_factory=FakeClient)


def survey_one(worker, db, clock, n: int, *replies: str) -> None:
    """An interaction for number n, its survey sent, and the replies given one after another."""
    msisdn = f"8613812340{n:03d}"
    result = record_interactions(db, [{"source": "crm", "external_id": f"r{n}", "msisdn": msisdn, "outlet": "S001",
                                       "business_type": "宽带", "ended_at": (clock.now() - timedelta(minutes=10)).isoformat()}],
                                 now=clock.now(), tz=SH)
    db.commit()
    assert result.created == 1
    step(worker, clock)
    for text in replies:
        worker.client.on_replies([SmppInbound(source=msisdn, destination="10655", text=text, data_coding=8)])
        step(worker, clock, minutes=2)


def step(worker, clock, **advance):
    if advance:
        clock.advance(**advance)
    worker.run_once(clock.now())
    worker.client.ack_all()
    worker.record(clock.now())


def csrf(client) -> str:
    page = client.get("/review/").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def queued(worker, db, clock):
    """Two sessions whose reason is only `other` (same text), one whose satisfaction reply was unclear."""
    survey_one(worker, db, clock, 1, "4", OTHER_TEXT)
    survey_one(worker, db, clock, 2, "5", OTHER_TEXT + "！")
    survey_one(worker, db, clock, 3, UNCLEAR_TEXT)
    db.expire_all()


GETS = ["/review/", "/review/labels", "/review/labels.jsonl"]


@pytest.mark.parametrize("path", GETS)
def test_signed_out_goes_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.location


def test_signed_out_cannot_label(client, db, queued):
    # CSRF protection answers first (a signed-out browser has no token); nothing is stored either way.
    response = client.post("/review/label", data={"survey": "csat-default", "question": "reason",
                                                  "text": OTHER_TEXT, "choice": "reason:billing"})
    assert response.status_code in (302, 400)
    assert db.scalar(select(ReplyLabel.id)) is None


@pytest.mark.parametrize("path", GETS)
@pytest.mark.parametrize("role, status", [("lead", 403), ("manager", 200), ("admin", 200)])
def test_pages_by_role(client, users, sign_in, path, role, status):
    sign_in(users[role])
    assert client.get(path).status_code == status


def test_a_channel_lead_cannot_label(client, users, sign_in, db, queued):
    sign_in(users["manager"])
    token = csrf(client)
    sign_in(users["lead"])
    response = client.post("/review/label", data={"csrf_token": token, "survey": "csat-default",
                                                  "question": "reason", "text": OTHER_TEXT, "choice": "reason:billing"})
    assert response.status_code == 403
    assert db.scalar(select(ReplyLabel.id)) is None


def test_a_label_without_its_csrf_token_is_refused(client, users, sign_in, db, queued):
    sign_in(users["manager"])
    response = client.post("/review/label", data={"survey": "csat-default", "question": "reason",
                                                  "text": OTHER_TEXT, "choice": "reason:billing"})
    assert response.status_code == 400
    assert db.scalar(select(ReplyLabel.id)) is None


def test_the_queue_groups_similar_replies_and_shows_their_parse(client, users, sign_in, queued):
    sign_in(users["manager"])
    page = client.get("/review/").get_data(as_text=True)
    assert page.count('class="card review-group"') == 2  # the two "other" texts are one group
    assert OTHER_TEXT in page and UNCLEAR_TEXT in page and "csat-default / reason · 2 条" in page
    assert "现在的解析：回答 其他" in page and "现在的解析：看不懂" in page


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_a_label_changes_the_parse_and_reparses_past_answers_with_an_audit_row(client, users, sign_in, db, queued,
                                                                              role):
    sign_in(users[role])
    assert parse_with_labels(load_learned(db), CSAT, CSAT.question("reason"), OTHER_TEXT).reasons == ("other",)
    response = client.post("/review/label", data={
        "csrf_token": csrf(client), "survey": "csat-default", "question": "reason",
        "text": [OTHER_TEXT, OTHER_TEXT + "！"], "choice": "reason:billing", "reparse": "y"})
    assert response.status_code == 302
    db.expire_all()
    # The same text is read as labelled from now on, whatever decorates it.
    learned = load_learned(db)
    assert parse_with_labels(learned, CSAT, CSAT.question("reason"), f"【{OTHER_TEXT}】").reasons == ("billing",)
    # Past answers carry the corrected reason; the old one is kept in the audit rows.
    answers = list(db.scalars(select(Answer).where(Answer.question == "reason")))
    assert len(answers) == 2 and all(a.reasons == ["billing"] for a in answers)
    audits = list(db.scalars(select(ReplyReparse)))
    assert sorted(a.answer_id for a in audits) == sorted(a.id for a in answers)
    assert all((a.old_kind, a.old_reasons, a.new_kind, a.new_reasons, a.reparsed_by) ==
               ("answer", ["other"], "answer", ["billing"], role) for a in audits)
    assert db.scalar(select(ReplyLabel.labelled_by)) == role
    # Labelled: out of the queue.
    assert [g.question for g in review_queue(db, SURVEYS)] == ["satisfaction"]
    assert OTHER_TEXT in client.get("/review/labels.jsonl").get_data(as_text=True)


def test_labelling_an_unclear_reply_gives_its_session_the_answer(client, users, sign_in, db, queued):
    sign_in(users["manager"])
    inbound = db.scalar(select(InboundMessage).where(InboundMessage.text == UNCLEAR_TEXT))
    assert inbound.parsed_kind == "unclear"
    assert db.scalar(select(Answer).where(Answer.session_id == inbound.session_id)) is None
    client.post("/review/label", data={"csrf_token": csrf(client), "survey": "csat-default",
                                       "question": "satisfaction", "text": UNCLEAR_TEXT, "choice": "value:3"})
    db.expire_all()
    answer = db.scalar(select(Answer).where(Answer.session_id == inbound.session_id))
    assert (answer.question, answer.value, answer.text, answer.outlet_code) == ("satisfaction", 3, UNCLEAR_TEXT, "S001")
    audit = db.scalar(select(ReplyReparse))
    assert (audit.inbound_id, audit.answer_id, audit.old_kind, audit.new_kind, audit.new_value) == (
        inbound.id, answer.id, "unclear", "answer", 3)
    assert parse_with_labels(load_learned(db), CSAT, CSAT.question("satisfaction"), UNCLEAR_TEXT).value == 3


def test_without_reparse_history_is_untouched(client, users, sign_in, db, queued):
    sign_in(users["manager"])
    client.post("/review/label", data={"csrf_token": csrf(client), "survey": "csat-default", "question": "reason",
                                       "text": OTHER_TEXT, "choice": "reason:billing", "reparse": "n"})
    db.expire_all()
    assert db.scalar(select(ReplyLabel.kind)) == "answer"
    assert db.scalar(select(ReplyReparse.id)) is None
    assert all(a.reasons == ["other"] for a in db.scalars(select(Answer).where(Answer.question == "reason")))


@pytest.mark.parametrize("data, message", [
    ({"question": "reason", "choice": "value:3"}, "reasons"),
    ({"question": "satisfaction", "choice": "value:9"}, "value"),
    ({"question": "nope", "choice": "unclear"}, "question"),
    ({"question": "reason", "choice": "reason:nonsense"}, "reasons"),
    ({"question": "reason", "choice": "maybe"}, "choice"),
])
def test_a_label_that_does_not_fit_its_question_is_refused_by_name(client, users, sign_in, db, queued, data,
                                                                  message):
    sign_in(users["admin"])
    response = client.post("/review/label", data={"csrf_token": csrf(client), "survey": "csat-default",
                                                  "text": OTHER_TEXT, **data})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.scalar(select(ReplyLabel.id)) is None


def test_an_optout_label_reads_the_text_as_an_optout(db, queued, clock):
    from survey.review import label
    label(db, SURVEYS, survey="csat-default", question="satisfaction", texts=[UNCLEAR_TEXT], kind="optout",
          user="tests", now=clock.now())
    got = parse_with_labels(load_learned(db), CSAT, CSAT.question("satisfaction"), UNCLEAR_TEXT)
    assert got.kind is ReplyKind.OPTOUT and got.value is None


def test_a_label_that_makes_a_reply_dissatisfied_opens_its_case(client, users, sign_in, db, queued):
    from survey.models import Case

    sign_in(users["manager"])
    inbound = db.scalar(select(InboundMessage).where(InboundMessage.text == UNCLEAR_TEXT))
    assert db.scalar(select(Case).where(Case.session_id == inbound.session_id)) is None
    client.post("/review/label", data={"csrf_token": csrf(client), "survey": "csat-default",
                                       "question": "satisfaction", "text": UNCLEAR_TEXT, "choice": "value:5"})
    db.expire_all()
    case = db.scalar(select(Case).where(Case.session_id == inbound.session_id))
    assert case is not None and case.outlet_code == "S001"
