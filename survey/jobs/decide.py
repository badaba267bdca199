"""Evaluate stored interactions: one policy decision each, and a scheduled session for the surveyed."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Mapping

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from channels.sql.bulk import insert_rows, update_rows
from channels.models import BusinessType, City, Interaction, Outlet, Region, Subscriber
from channels.phones import is_mobile_e164
from survey.definitions import Survey
from survey.jobs.claims import lock_numbers
from survey.models import Answer, OutboundMessage, SurveySession
from survey.policy import Decision, Facts, PolicyConfig, decide, has_targets
from survey.policy_overrides import live_config
from survey.states import OPEN_STATES, MessagePurpose, OutboundState, SessionState
from survey.texts import question_text

log = logging.getLogger(__name__)


def evaluate_pending(db: Session, *, now: datetime, config: PolicyConfig, surveys: Mapping[str, Survey],
                     limit: int = 1000) -> Counter[Decision]:
    """Decide for up to limit unevaluated interactions (oldest first); returns counts by decision.

    config holds the settings' rules; the admin's stored overrides are merged over them on each
    run that has interactions to decide, so a change on the admin pages needs no restart."""
    rows = db.execute(
        select(Interaction, Outlet.code, Outlet.name, BusinessType.code, BusinessType.name)
        .join(Outlet, Interaction.outlet_id == Outlet.id)
        .outerjoin(BusinessType, Interaction.business_type_id == BusinessType.id)
        .where(Interaction.evaluated_at.is_(None))
        .order_by(Interaction.id).limit(limit)
        .with_for_update(skip_locked=True, of=Interaction)  # another worker takes the next ones
    ).all()
    if not rows:
        return Counter()
    # Two workers deciding for one number at once would each see no open session and open two.
    # Held from here, the queries below see what the other committed.
    lock_numbers(db, {r[0].msisdn for r in rows})
    config = live_config(db, config, surveys=surveys)
    numbers = {r[0].msisdn for r in rows}
    subscribers = _subscribers(db, [r[0] for r in rows], now=now)
    last_survey = dict(db.execute(
        select(SurveySession.msisdn, func.max(SurveySession.scheduled_for))
        .where(SurveySession.msisdn.in_(numbers)).group_by(SurveySession.msisdn)).all())
    open_numbers = set(db.scalars(select(SurveySession.msisdn).where(
        SurveySession.msisdn.in_(numbers), SurveySession.state.in_(OPEN_STATES))))
    answers_by_outlet = _answers_this_month(db, now=now, config=config, surveys=surveys) if has_targets(config) else {}

    counts: Counter[Decision] = Counter()
    decided: list[dict] = []
    sessions: list[dict] = []
    messages: list[dict] = []  # the first question of each session, keyed by interaction id until stored
    for interaction, outlet_code, outlet_name, business_code, business_name in rows:
        subscriber = subscribers[interaction.msisdn]
        facts = Facts(
            key=f"{interaction.source}:{interaction.external_id}", channel=str(interaction.channel),
            business_type=business_code, ended_at=interaction.ended_at,
            is_mobile=is_mobile_e164(interaction.msisdn), opted_out=subscriber.opted_out_at is not None,
            do_not_survey=subscriber.do_not_survey, last_survey_at=last_survey.get(interaction.msisdn),
            has_open_session=interaction.msisdn in open_numbers,
            outlet_answers_this_month=answers_by_outlet.get(outlet_code, 0), outlet=outlet_code,
        )
        verdict = decide(config, facts, now=now)
        if verdict.survey is not None and verdict.survey not in surveys:
            log.error("interaction %s: survey %r is not defined; not surveyed", interaction.id, verdict.survey)
            verdict = type(verdict)(Decision.NO_SURVEY)
        decided.append({"id": interaction.id, "evaluated_at": now, "decision": verdict.decision.value})
        counts[verdict.decision] += 1
        if not verdict.surveyed:
            continue
        survey = surveys[verdict.survey]
        first = survey.questions[0].key
        sessions.append({
            "interaction_id": interaction.id, "msisdn": interaction.msisdn, "survey": survey.key,
            "state": SessionState.SCHEDULED, "question": first, "reasks": 0, "scheduled_for": verdict.send_at,
            "expires_at": verdict.send_at + config.survey_end, "segments_sent": 0, "created_at": now})
        messages.append({
            "session_id": interaction.id, "msisdn": interaction.msisdn, "purpose": MessagePurpose.QUESTION,
            "question": first, "state": OutboundState.PENDING, "due_at": verdict.send_at, "attempts": 0,
            "segments": 0, "ref": 0, "created_at": now,
            "text": question_text(survey, first, {"outlet": outlet_name, "business": business_name or ""})})
        # Later interactions in this batch see this survey (fatigue) and this open session.
        last_survey[interaction.msisdn] = verdict.send_at
        open_numbers.add(interaction.msisdn)
    # A batch is a thousand rows: bulk statements, not a unit of work per object.
    update_rows(db, Interaction.__table__, decided)
    if sessions:
        ids = dict(db.execute(insert(SurveySession).returning(SurveySession.interaction_id, SurveySession.id),
                              sessions).all())
        for message in messages:
            message["session_id"] = ids[message["session_id"]]
        db.execute(insert(OutboundMessage), messages)
    return counts


def _subscribers(db: Session, interactions: list[Interaction], *, now: datetime) -> dict[str, Subscriber]:
    """The subscribers of these interactions, created on first sight with the latest attributes."""
    latest = {i.msisdn: i.attributes for i in interactions}
    insert_rows(db, "subscribers", ("msisdn", "attributes", "created_at", "do_not_survey"),
                [{"msisdn": m, "attributes": a or {}, "created_at": now, "do_not_survey": False}
                 for m, a in latest.items()], conflict=("msisdn",))
    found = {s.msisdn: s for s in db.scalars(select(Subscriber).where(Subscriber.msisdn.in_(latest)))}
    for msisdn, attributes in latest.items():
        if attributes and found[msisdn].attributes != attributes:
            found[msisdn].attributes = attributes
    return found


def _answers_this_month(db: Session, *, now: datetime, config: PolicyConfig,
                        surveys: Mapping[str, Survey]) -> dict[str, int]:
    """Answers to each survey's main (first) question per outlet since the local month began."""
    local = now.astimezone(config.tz)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first_questions = {s.questions[0].key for s in surveys.values()}
    return dict(db.execute(
        select(Answer.outlet_code, func.count()).where(
            Answer.answered_at >= month_start, Answer.question.in_(first_questions))
        .group_by(Answer.outlet_code)).all())


def interaction_tags(db: Session, interaction_ids: set[int]) -> dict[int, dict[str, object]]:
    """The dimensions answers are tagged with, copied from their interactions, by interaction id."""
    rows = db.execute(
        select(Interaction.id, Interaction.channel, Interaction.attributes, Outlet.code, Outlet.name,
               City.name, Region.name, BusinessType.name)
        .join(Outlet, Interaction.outlet_id == Outlet.id).join(City).join(Region)
        .outerjoin(BusinessType, Interaction.business_type_id == BusinessType.id)
        .where(Interaction.id.in_(interaction_ids)))
    return {
        id_: {"channel": str(channel), "attributes": dict(attributes or {}), "outlet_code": code,
              "outlet_name": outlet_name, "city": city, "region": region, "business_type": business}
        for id_, channel, attributes, code, outlet_name, city, region, business in rows
    }
