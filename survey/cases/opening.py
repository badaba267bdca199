"""Opening cases: from answers as the engine stores them (same transaction, at most one per session),
and from answers already stored (a backfill), in bulk: no unit of work per row."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from channels.sql.bulk import insert_rows

from survey.cases.config import CaseLoop, CasePolicy
from survey.cases.routing import Routes, owners
from survey.cases.rules import AnswerFacts, Rule, first_match, optout_match
from survey.cases.states import CaseEventKind, CaseState
from survey.models import Answer, Case

SYSTEM = "系统"
CHUNK = 5000


@dataclass(frozen=True)
class CaseSeed:
    """A case to open once its answer is stored."""

    session_id: int
    question: str  # the question of the answer that opened it
    trigger: str  # the rule's key
    msisdn: str
    channel: str
    outlet_code: str
    region: str
    city: str
    segment: str
    opened_at: datetime


class CaseOpener:
    """Turns answers into case seeds by the rules, and seeds into cases."""

    def __init__(self, loop: CaseLoop) -> None:
        self.loop, self.policy, self.tz = loop, loop.policy, loop.tz

    def _facts(self, survey: str, question: str, value, reasons, text: str, attributes) -> AnswerFacts:
        segment = self.policy.deadlines.segment_of(attributes).key
        return AnswerFacts(survey, question, value, tuple(reasons or ()), text or "", attributes or {}, segment)

    def judge(self, survey: str, question: str, value: int | None, reasons, text: str,
              attributes) -> tuple[Rule | None, str]:
        """The rule that opens a case for such an answer (None: no case), and the customer's segment."""
        facts = self._facts(survey, question, value, reasons, text, attributes)
        return first_match(self.policy.rules, facts), facts.segment

    def for_answer(self, answer: Mapping[str, Any]) -> CaseSeed | None:
        """The seed of a case for an answer row (the columns of answers), if a rule opens one."""
        rule, segment = self.judge(answer["survey"], answer["question"], answer["value"], answer["reasons"],
                                   answer["text"], answer["attributes"])
        if rule is None:
            return None
        return CaseSeed(answer["session_id"], answer["question"], rule.key, answer["msisdn"], answer["channel"],
                        answer["outlet_code"], answer["region"], answer["city"], segment, answer["answered_at"])

    def for_optout(self, *, session_id: int, msisdn: str, survey: str, answers: Mapping[str, Any],
                   tags: Mapping[str, Any], now: datetime) -> CaseSeed | None:
        """The seed of a case for an opt-out after a bad score in the same survey (answers: question →
        parsed reply, in the order given)."""
        given = [self._facts(survey, question, reply.value, reply.reasons, reply.text, tags["attributes"])
                 for question, reply in answers.items()]
        found = optout_match(self.policy.rules, given)
        if found is None:
            return None
        rule, facts = found
        return CaseSeed(session_id, facts.question, rule.key, msisdn, tags["channel"], tags["outlet_code"],
                        tags["region"], tags["city"], facts.segment, now)

    def open(self, db: Session, seeds: Sequence[CaseSeed]) -> list[int]:
        """Open a case for each seed whose session has none yet; returns the new cases' ids."""
        return open_cases(db, seeds, policy=self.policy, tz=self.tz)


def open_cases(db: Session, seeds: Sequence[CaseSeed], *, policy: CasePolicy, tz: tzinfo) -> list[int]:
    """Insert the cases and their first history line; a session that has a case gets no second one."""
    firsts: dict[int, CaseSeed] = {}
    for seed in seeds:
        firsts.setdefault(seed.session_id, seed)
    if not firsts:
        return []
    sessions = sorted(firsts)
    taken, answer_ids = set(), {}
    for start in range(0, len(sessions), CHUNK):
        chunk = sessions[start:start + CHUNK]
        taken.update(db.scalars(select(Case.session_id).where(Case.session_id.in_(chunk))))
        answer_ids.update(((s, q), i) for i, s, q in db.execute(
            select(Answer.id, Answer.session_id, Answer.question).where(Answer.session_id.in_(chunk))))
    fresh = [firsts[s] for s in sessions if s not in taken]
    if not fresh:
        return []
    routes = Routes.load(db)
    owner_of = owners(db, {(s.outlet_code, s.channel, s.city, s.region) for s in fresh}, routes)
    deadlines, rows = policy.deadlines, []
    for seed in fresh:
        timing = deadlines.timing(deadlines.segment(seed.segment), seed.opened_at, tz)
        owner = owner_of.get(seed.outlet_code)
        rows.append({
            "session_id": seed.session_id, "answer_id": answer_ids.get((seed.session_id, seed.question)),
            "trigger": seed.trigger, "msisdn": seed.msisdn, "channel": seed.channel, "outlet_code": seed.outlet_code,
            "region": seed.region, "city": seed.city, "segment": seed.segment, "state": CaseState.OPEN,
            "round": 1, "owner_id": owner, "first_owner_id": owner, "opened_at": seed.opened_at,
            "round_started_at": seed.opened_at, "deadline_at": timing.deadline_at, "warn_at": timing.warn_at,
            "handovers": 0, "escalation_level": 0, "next_check_at": min(timing.warn_at, timing.deadline_at),
            "updated_at": seed.opened_at})
    # Thousands of rows in a backfill: the driver's executemany (COPY on PostgreSQL), then the ids.
    insert_rows(db, "cases", CASE_COLUMNS, rows, conflict=("session_id",))
    opened: dict[int, int] = {}
    fresh_sessions = [row["session_id"] for row in rows]
    for start in range(0, len(fresh_sessions), CHUNK):
        opened.update(db.execute(select(Case.session_id, Case.id)
                                 .where(Case.session_id.in_(fresh_sessions[start:start + CHUNK]))).all())
    insert_rows(db, "case_events", EVENT_COLUMNS, [
        {"case_id": opened[row["session_id"]], "at": row["opened_at"], "user_id": None, "actor": SYSTEM,
         "kind": CaseEventKind.OPENED, "from_state": None, "to_state": CaseState.OPEN.value,
         "detail": {"trigger": row["trigger"], "owner_id": row["owner_id"], "segment": row["segment"]}}
        for row in rows], conflict=("id",))
    return [opened[row["session_id"]] for row in rows]


CASE_COLUMNS = ("session_id", "answer_id", "trigger", "msisdn", "channel", "outlet_code", "region", "city", "segment",
                "state", "round", "owner_id", "first_owner_id", "opened_at", "round_started_at", "deadline_at",
                "warn_at", "handovers", "escalation_level", "next_check_at", "updated_at")
EVENT_COLUMNS = ("case_id", "at", "user_id", "actor", "kind", "from_state", "to_state", "detail")


# The JSON columns as their stored text: answers repeat the same few values (reasons, tier and brand),
# so each text is decoded, and each kind of answer judged, once per pass.
ANSWER_COLUMNS = (Answer.id, Answer.session_id, Answer.survey, Answer.question, Answer.value,
                  cast(Answer.reasons, Text), Answer.text, Answer.answered_at, Answer.msisdn, Answer.channel,
                  Answer.outlet_code, Answer.region, Answer.city, cast(Answer.attributes, Text))
MEMO_LIMIT = 100_000


def open_for_stored_answers(db: Session, opener: CaseOpener, *, after_id: int = 0,
                            answer_ids: Iterable[int] | None = None, chunk: int = 20000) -> tuple[int, int]:
    """Open the cases the rules call for among answers already stored (those after after_id, or the
    given ones): for answers stored before the rules were on, or changed since (a reply read again
    from the review queue). One pass, a chunk of rows at a time, rows as tuples and the inserts in
    bulk (no unit of work per row); returns (answers read, cases opened)."""
    read = opened = 0
    wanted = sorted(set(answer_ids)) if answer_ids is not None else None
    last = after_id
    decoded: dict[str | None, Any] = {}
    verdicts: dict[tuple, tuple[Rule | None, str]] = {}

    def load(raw: str | None) -> Any:
        if raw not in decoded:
            decoded[raw] = json.loads(raw) if raw else None
        return decoded[raw]

    while True:
        query = select(*ANSWER_COLUMNS).order_by(Answer.id).limit(chunk)
        if wanted is not None:
            batch_ids = wanted[read:read + chunk]
            if not batch_ids:
                break
            query = query.where(Answer.id.in_(batch_ids))
        else:
            query = query.where(Answer.id > last)
        rows = db.execute(query).all()
        if not rows:
            break
        read += len(rows) if wanted is None else len(batch_ids)
        last = rows[-1][0]
        if len(verdicts) > MEMO_LIMIT or len(decoded) > MEMO_LIMIT:
            verdicts.clear()
            decoded.clear()
        seeds = []
        for (_, session_id, survey, question, value, reasons, text, answered_at, msisdn, channel, outlet, region,
             city, attributes) in rows:
            key = (survey, question, value, reasons, text, attributes)
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = verdicts[key] = opener.judge(survey, question, value, load(reasons) or (), text,
                                                       load(attributes) or {})
            rule, segment = verdict
            if rule is not None:
                seeds.append(CaseSeed(session_id, question, rule.key, msisdn, channel, outlet, region, city, segment,
                                      answered_at))
        opened += len(opener.open(db, seeds))
        if wanted is None and len(rows) < chunk:
            break
    return read, opened
