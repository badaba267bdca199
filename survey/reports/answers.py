"""An outlet's page (its figures and its answers with the customers' own words) and one answer's
whole survey. Phone numbers leave here masked (138****1234), for every role."""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.queries import AnswerRecord, answer_records
from channels.models import Interaction
from channels.phones import mask_msisdn
from survey.models import Answer, InboundMessage, SurveySession
from survey.reports.drilldown import GroupRow, group_row, metrics_by
from survey.reports.labels import SCORE_LABELS, channel_label, reason_label
from survey.reports.places import Place, place
from survey.reports.selection import NotVisible, Selection
from survey.reports.tables import Table

PER_PAGE = 50
QUESTION_LABELS = {"satisfaction": "满意度", "reason": "不满意原因", "recommend": "推荐意愿（0-10）"}


@dataclass(frozen=True)
class AnswerView:
    """One answer as a page shows it: local time, masked phone, verbatim reply."""

    id: int
    answered_at: datetime  # in the configured zone
    outlet: str
    business_type: str
    value: int | None
    value_label: str
    reasons: tuple[str, ...]
    text: str
    phone: str
    tier: str
    brand: str


def answer_view(r: AnswerRecord, tz: tzinfo) -> AnswerView:
    """A record with its phone masked and its time local."""
    attrs: Mapping = r.attributes or {}
    return AnswerView(r.id, r.answered_at.astimezone(tz), r.outlet, r.business_type or "", r.value,
                      SCORE_LABELS.get(r.value, "" if r.value is None else str(r.value)),
                      tuple(reason_label(c) for c in r.reasons), r.text, mask_msisdn(r.msisdn),
                      str(attrs.get("tier") or ""), str(attrs.get("brand") or ""))


@dataclass(frozen=True)
class OutletPage:
    """An outlet's figures over the selection, by business type, and a page of its answers."""

    place: Place
    summary: GroupRow
    by_business: tuple[GroupRow, ...]
    answers: tuple[AnswerView, ...]
    page: int
    pages: int


def outlet_page(db: Session, sel: Selection, code: str, *, page: int = 1, per_page: int = PER_PAGE) -> OutletPage:
    """One outlet in scope (else NotVisible), newest answers first."""
    where = place(db, sel.scope, code)
    mine = sel.within([code])
    _, _, summary = metrics_by(db, mine, "outlet")
    by_type, sent, _ = metrics_by(db, mine, "business_type")
    rows = tuple(group_row(k, k, m, sent.get(k, 0)) for k, m in sorted(by_type.items()))
    pages = max(1, math.ceil(summary.responses / per_page))
    records = answer_records(db, limit=per_page, offset=(min(page, pages) - 1) * per_page, **mine.window())
    return OutletPage(where, summary, rows, tuple(answer_view(r, sel.tz) for r in records), min(page, pages), pages)


@dataclass(frozen=True)
class QuestionAnswer:
    """One question's answer in a survey."""

    question: str
    value: int | None
    value_label: str
    reasons: tuple[str, ...]
    text: str
    answered_at: datetime


@dataclass(frozen=True)
class Reply:
    """A message the customer sent, as received."""

    received_at: datetime
    text: str


@dataclass(frozen=True)
class AnswerDetail:
    """One survey of one interaction: where and when, the answers and the customer's own words."""

    id: int
    place: Place
    survey: str
    phone: str
    ended_at: datetime
    business_type: str
    attributes: tuple[tuple[str, str], ...]
    answers: tuple[QuestionAnswer, ...]
    replies: tuple[Reply, ...]


def answer_detail(db: Session, answer_id: int, *, scope, tz: tzinfo) -> AnswerDetail:
    """The survey an answer belongs to; NotVisible when the answer is outside scope or does not exist."""
    q = select(Answer).where(Answer.id == answer_id)
    if scope is not None:
        # In the query, so an answer of another outlet is never even loaded.
        q = q.where(Answer.outlet_code.in_(list(scope)))
    answer = db.scalars(q).first()
    if answer is None:
        raise NotVisible("answer")
    where = place(db, scope, answer.outlet_code)
    session = db.get(SurveySession, answer.session_id)
    interaction = db.get(Interaction, session.interaction_id)
    answers = db.scalars(select(Answer).where(Answer.session_id == session.id).order_by(Answer.answered_at, Answer.id))
    replies = db.scalars(select(InboundMessage).where(InboundMessage.session_id == session.id)
                         .order_by(InboundMessage.received_at, InboundMessage.id))
    labels = SCORE_LABELS if answer.survey.startswith("csat") else {}
    return AnswerDetail(
        answer.id, where, answer.survey, mask_msisdn(answer.msisdn), interaction.ended_at.astimezone(tz),
        answer.business_type or "", tuple(sorted((str(k), str(v)) for k, v in (answer.attributes or {}).items())),
        tuple(QuestionAnswer(QUESTION_LABELS.get(a.question, a.question), a.value,
                             labels.get(a.value, "" if a.value is None else str(a.value)),
                             tuple(reason_label(c) for c in a.reasons or ()), a.text, a.answered_at.astimezone(tz))
              for a in answers),
        tuple(Reply(m.received_at.astimezone(tz), m.text) for m in replies),
    )


ANSWER_HEADER = ("答复时间", "渠道", "区域", "城市", "网点", "业务类型", "手机号（已隐藏）", "评分", "评价",
                 "原因", "客户原话", "客户等级", "品牌")


def answers_table(db: Session, sel: Selection) -> Table:
    """Every answer of the selection, newest first, streamed from the database as the file is written."""
    def rows() -> Iterator[tuple]:
        for r in answer_records(db, **sel.window()):
            attrs = r.attributes or {}
            yield (r.answered_at.astimezone(sel.tz).strftime("%Y-%m-%d %H:%M"), channel_label(r.channel), r.region, r.city,
                   r.outlet, r.business_type or "", mask_msisdn(r.msisdn), r.value, SCORE_LABELS.get(r.value, ""),
                   "、".join(reason_label(c) for c in r.reasons), r.text, str(attrs.get("tier") or ""),
                   str(attrs.get("brand") or ""))
    name = f"answers-{sel.filter.start}_{sel.filter.end}"
    return Table(name, "答复明细", ANSWER_HEADER, rows())
