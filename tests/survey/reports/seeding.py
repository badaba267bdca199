"""Deterministic answers for the report and dashboard tests, stored the way the engine stores them.

Interactions go through the real ingest service (record_interactions) and answers are tagged by the
engine's own interaction_tags, so the business type is the name and attributes are the interaction's;
only the SMS exchange in between is skipped (test_engine.py covers it). Every figure a test expects
is computed from the plan it seeded, never typed in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from channels.services import record_interactions, upsert_outlets
from survey.jobs.decide import interaction_tags
from survey.models import Answer, InboundMessage, SurveySession
from survey.states import InboundState, SessionState

SH = ZoneInfo("Asia/Shanghai")
# An outlet in another region, so a lead of S001 and HL1 (both 华东 / 上海) has a region to be refused.
NORTH = {"code": "N001", "name": "王府井营业厅", "channel": "store", "kind": "own", "region": "华北", "city": "北京"}


@dataclass(frozen=True)
class Planned:
    """One interaction and what became of it: not surveyed, sent and unanswered, or answered."""

    outlet: str
    ended_at: datetime
    business: str = "宽带"
    tier: str = "普通"
    brand: str = "全球通"
    sent: bool = True
    value: int | None = None  # the score; None: no answer
    reasons: tuple[str, ...] = ()
    reply: str | None = None  # the reply's text; default: the score as a digit
    survey: str = "csat-default"
    segments: int = 2
    reason_text: str | None = None  # a second reply answering the reason question


@dataclass
class Seeded:
    """What was stored, in plan order: answer ids (None where unanswered) and phone numbers."""

    plan: list[Planned]
    answer_ids: list[int | None] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)

    def answered(self, **where) -> list[Planned]:
        """The answered items matching every given field, e.g. answered(outlet="S001")."""
        return [p for p in self.plan if p.value is not None and all(getattr(p, k) == v for k, v in where.items())]


def phone(i: int) -> str:
    return f"+86138{i:08d}"


def seed(db, clock, plan: list[Planned], *, first: int = 0) -> Seeded:
    """Store the plan: interactions by the ingest service, sessions, replies and tagged answers.

    A second seed in one test passes `first` past the items of the first (ids and phones differ).
    """
    assert not upsert_outlets(db, [(2, NORTH)]).errors
    items = [{"source": "seed", "external_id": f"s{first + i}", "msisdn": phone(first + i), "outlet": p.outlet,
              "business_type": p.business, "ended_at": p.ended_at.isoformat(), "tier": p.tier, "brand": p.brand}
             for i, p in enumerate(plan)]
    result = record_interactions(db, items, now=clock.now(), tz=SH)
    assert result.created == len(plan), result.rejected
    ids = [o.id for o in result.outcomes]
    tags = interaction_tags(db, set(ids))
    out = Seeded(plan)
    for i, (p, interaction_id) in enumerate(zip(plan, ids), start=first):
        out.phones.append(phone(i))
        if not p.sent:
            out.answer_ids.append(None)
            continue
        sent_at = p.ended_at + timedelta(minutes=5)
        state = SessionState.COMPLETED if p.value is not None else SessionState.EXPIRED
        session = SurveySession(interaction_id=interaction_id, msisdn=phone(i), survey=p.survey, state=state,
                                scheduled_for=sent_at, sent_at=sent_at, segments_sent=p.segments,
                                created_at=p.ended_at, ended_at=sent_at + timedelta(hours=1))
        db.add(session)
        db.flush()
        if p.value is None:
            out.answer_ids.append(None)
            continue
        t = tags[interaction_id]
        common = dict(session_id=session.id, survey=p.survey, response_seconds=600, msisdn=phone(i),
                      channel=t["channel"], outlet_code=t["outlet_code"], region=t["region"], city=t["city"],
                      business_type=t["business_type"], attributes=t["attributes"])
        answered_at = sent_at + timedelta(minutes=10)
        text = p.reply if p.reply is not None else str(p.value)
        reply = InboundMessage(msisdn=phone(i), destination="10655", text=text, received_at=answered_at,
                               state=InboundState.PROCESSED, session_id=session.id, processed_at=answered_at)
        db.add(reply)
        question = "recommend" if p.survey == "nps-default" else "satisfaction"
        answer = Answer(question=question, value=p.value, reasons=list(p.reasons), text=text,
                        answered_at=answered_at, **common)
        db.add(answer)
        if p.reason_text is not None:
            db.add(Answer(question="reason", value=None, reasons=[], text=p.reason_text,
                          answered_at=answered_at + timedelta(minutes=1), **common))
        db.flush()
        out.answer_ids.append(answer.id)
    db.commit()
    return out


def local(*args) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime(*args, tzinfo=SH)


# Scores per outlet in the current period (30 days to 2026-11-20): S002 is the short board.
CURRENT = {
    "S001": [1] * 18 + [2] * 8 + [3] * 2 + [4] * 2,
    "S002": [1] * 8 + [2] * 6 + [3] * 4 + [4] * 8 + [5] * 4,
    "S101": [1] * 20 + [2] * 8 + [3] * 2,
    "HL1": [1] * 14 + [2] * 6 + [4] * 2,
    "WEB1": [1] * 6 + [2] * 2,
    "N001": [1] * 14 + [2] * 6 + [3] * 1 + [4] * 1,
}
PREVIOUS = {"S001": [1] * 8 + [4] * 2, "S002": [1] * 9 + [2], "HL1": [1] * 4 + [5], "N001": [2] * 5}
CHANNEL_OF = {"S001": "store", "S002": "store", "S101": "store", "HL1": "hotline", "WEB1": "web", "N001": "store"}
REASONS = {3: ("process",), 4: ("wait_time",), 5: ("attitude", "wait_time")}


def standard_plan() -> list[Planned]:
    """Answers in the default period and the one before, unanswered and unsent interactions, NPS on
    the hotline, and replies a spreadsheet would take for formulas."""
    plan: list[Planned] = []
    for outlet, values in CURRENT.items():
        for i, value in enumerate(values):
            reply = f"{value} 排队太久" if value >= 4 else None
            if outlet == "S002" and i == 0:
                reply = "=HYPERLINK(\"http://x\")"  # a reply that must stay text in an export
            plan.append(Planned(outlet, local(2026, 11, 1 + i % 19, 9 + i % 8, 0),
                                business="宽带" if i % 2 else "缴费", tier="金卡" if i % 3 == 0 else "普通",
                                brand="动感地带" if i % 4 == 0 else "全球通", value=value,
                                reasons=REASONS.get(value, ()), reply=reply,
                                reason_text="营业员态度差" if value == 5 else None))
        plan.append(Planned(outlet, local(2026, 11, 3, 10, 0)))  # sent, never answered
        plan.append(Planned(outlet, local(2026, 11, 4, 10, 0), sent=False))  # not surveyed
    for outlet, values in PREVIOUS.items():
        for i, value in enumerate(values):
            plan.append(Planned(outlet, local(2026, 10, 1 + i, 11, 0), value=value, reasons=REASONS.get(value, ())))
    for i, value in enumerate([10, 9, 9, 8, 6, 10]):
        plan.append(Planned("HL1", local(2026, 11, 10 + i, 15, 0), value=value, survey="nps-default"))
    return plan


def people(db, clock) -> dict:
    """An admin, a manager and a lead of S001 and HL1, as the `users` fixture makes them but without
    hashing passwords (0.1 s each): these tests sign in through the session, never by password."""
    from sqlalchemy import select

    from channels.models import Outlet
    from survey.accounts.models import Role, User

    lead_outlets = list(db.scalars(select(Outlet).where(Outlet.code.in_(["S001", "HL1"]))))
    made = {name: User(username=name, password_hash="!", role=role, created_at=clock.now(),
                       outlets=lead_outlets if role is Role.CHANNEL_LEAD else [])
            for name, role in (("admin", Role.ADMIN), ("manager", Role.MANAGER), ("lead", Role.CHANNEL_LEAD))}
    db.add_all(made.values())
    db.commit()
    return made
