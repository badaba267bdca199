"""The review queue's use cases: replies the parser could not place, labelling them, and reading
past replies again with a label. No web framework here; survey/web/review.py is the thin view.

What is queued: replies parsed as `unclear` that answered a survey's question, and answers to a
reasons question read only as `other` from the customer's own words. Items are grouped by their
normalised text, and groups whose texts share most of their character pairs are merged.

A label (ReplyLabel) says how one normalised text answers one question. It changes the parse of the
same text from then on (load_learned → survey.replies.learned.Learned, passed to parse_reply), is
a training example for the reason model (export_labels: the corpus's JSONL format, for
`python -m survey.replies.train_model --extra FILE`), and can re-read past replies: each changed
answer keeps its old reading in a ReplyReparse row written in the same transaction.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from channels.models import BusinessType, City, Interaction, Outlet, Region
from survey.cases.opening import CaseOpener, open_for_stored_answers
from survey.definitions import Question, QuestionKind, Survey
from survey.models import Answer, InboundMessage, ReplyLabel, ReplyReparse, SurveySession
from survey.reasons import REASON_CODES
from survey.replies.learned import Learned, LearnedLabel
from survey.replies.normalize import normalise
from survey.replies.parser import ParsedReply, ReplyKind, parse_reply
from survey.states import InboundState

QUEUE_SCAN = 2000  # most recent candidate replies looked at per source
SIMILAR = 0.5  # share of character pairs two texts must share to be grouped


class LabelError(ValueError):
    """A label that does not fit its question; the message names the field."""


@dataclass
class ReviewItem:
    survey: str
    question: str
    norm: str
    text: str  # verbatim
    inbound_id: int | None
    answer_id: int | None


@dataclass
class ReviewGroup:
    """Replies to one question with the same or similar text, shown and labelled together."""

    survey: str
    question: str
    texts: dict[str, list[ReviewItem]] = field(default_factory=dict)  # normalised text -> its replies
    parse: ParsedReply | None = None  # how the parser reads the first text now

    @property
    def size(self) -> int:
        return sum(len(items) for items in self.texts.values())

    @property
    def example(self) -> str:
        return next(iter(self.texts.values()))[0].text


@dataclass(frozen=True)
class LabelResult:
    labels: int
    reparsed: int  # past replies whose reading changed (each with a ReplyReparse row)


def text_hash(norm: str) -> str:
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def load_learned(db: Session) -> Learned:
    """Every label, ready to pass to parse_reply (see Learned.for_question)."""
    rows = db.execute(select(ReplyLabel.survey, ReplyLabel.question, ReplyLabel.norm_text, ReplyLabel.kind,
                             ReplyLabel.value, ReplyLabel.reasons))
    return Learned(LearnedLabel(s, q, norm, kind, value, tuple(reasons or ())) for s, q, norm, kind, value, reasons in rows)


def parse_with_labels(learned: Learned, survey: Survey, question: Question, text: str) -> ParsedReply:
    """The parser's reading of a reply, labels first."""
    return parse_reply(question, text, learned=learned.for_question(survey.key, question.key))


# -- the queue ---------------------------------------------------------------------------------

def review_queue(db: Session, surveys: Mapping[str, Survey], *, limit: int = 100) -> list[ReviewGroup]:
    """Groups of unplaced replies not yet labelled, the largest first."""
    learned = load_learned(db)
    items = [item for item in (*_unclear_items(db, surveys), *_other_items(db, surveys))
             if not learned.for_question(item.survey, item.question).get(item.norm)]
    groups = _group(items)
    for group in groups:
        survey = surveys[group.survey]
        group.parse = parse_with_labels(learned, survey, survey.question(group.question), group.example)
    groups.sort(key=lambda g: (-g.size, g.survey, g.question, g.example))
    return groups[:limit]


def _unclear_items(db: Session, surveys: Mapping[str, Survey]) -> list[ReviewItem]:
    """Replies in a session that the parser read as unclear, with the question they answered."""
    rows = list(db.execute(
        select(InboundMessage.id, InboundMessage.text, InboundMessage.session_id, SurveySession.survey)
        .join(SurveySession, InboundMessage.session_id == SurveySession.id)
        .where(InboundMessage.parsed_kind == ReplyKind.UNCLEAR.value,
               InboundMessage.state == InboundState.PROCESSED)
        .order_by(InboundMessage.id.desc()).limit(QUEUE_SCAN)))
    answered: dict[int, list[tuple[int, str]]] = {}
    for session_id, inbound_id, question in db.execute(
            select(Answer.session_id, Answer.inbound_id, Answer.question)
            .where(Answer.session_id.in_({row[2] for row in rows}))):
        answered.setdefault(session_id, []).append((inbound_id or 0, question))
    items = []
    for inbound_id, text, session_id, survey_key in rows:
        survey = surveys.get(survey_key)
        norm = normalise(text)
        if survey is None or not norm:
            continue
        question = _question_answered(survey, inbound_id, answered.get(session_id, []))
        if question is not None:
            items.append(ReviewItem(survey.key, question.key, norm, text, inbound_id, None))
    return items


def _question_answered(survey: Survey, inbound_id: int, answers: list[tuple[int, str]]) -> Question | None:
    """The question a reply answered: the first one the session had no answer to before it (an
    unclear reply is asked again, so the session was still on that question)."""
    done = {question for answer_inbound, question in answers if answer_inbound < inbound_id}
    return next((q for q in survey.questions if q.key not in done), None)


def _other_items(db: Session, surveys: Mapping[str, Survey]) -> list[ReviewItem]:
    """Answers to a reasons question read only as `other` from free text."""
    keys = [(s.key, q.key) for s in surveys.values() for q in s.questions if q.kind is QuestionKind.REASONS]
    items = []
    for survey_key, question_key in keys:
        for answer_id, inbound_id, text, reasons in db.execute(
                select(Answer.id, Answer.inbound_id, Answer.text, Answer.reasons)
                .where(Answer.survey == survey_key, Answer.question == question_key)
                .order_by(Answer.id.desc()).limit(QUEUE_SCAN)):
            norm = normalise(text)
            if list(reasons or ()) == ["other"] and norm and not norm.replace(" ", "").isdigit():
                items.append(ReviewItem(survey_key, question_key, norm, text, inbound_id, answer_id))
    return items


def _pairs(norm: str) -> set[str]:
    text = norm.replace(" ", "")
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def _group(items: list[ReviewItem]) -> list[ReviewGroup]:
    """Same text together; then a text joins the first larger group of its question it resembles."""
    exact: dict[tuple[str, str, str], list[ReviewItem]] = {}
    for item in items:
        exact.setdefault((item.survey, item.question, item.norm), []).append(item)
    groups: list[tuple[ReviewGroup, set[str]]] = []
    for (survey, question, norm), members in sorted(exact.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        pairs = _pairs(norm)
        for group, group_pairs in groups:
            if (group.survey, group.question) == (survey, question) and \
                    len(pairs & group_pairs) >= SIMILAR * min(len(pairs), len(group_pairs)):
                group.texts[norm] = members
                break
        else:
            groups.append((ReviewGroup(survey, question, {norm: members}), pairs))
    return [group for group, _ in groups]


# -- labelling -----------------------------------------------------------------------------------

def _checked(question: Question, kind: str, value: int | None, reasons: Iterable[str]) -> tuple[str, int | None, tuple[str, ...]]:
    """The label as a reading the question allows; LabelError otherwise."""
    try:
        kind = ReplyKind(kind).value
    except ValueError:
        raise LabelError(f"kind: expected answer, optout or unclear, got {kind!r}") from None
    reasons = tuple(dict.fromkeys(reasons))
    if kind != ReplyKind.ANSWER:
        return kind, None, ()
    unknown = [code for code in reasons if code not in REASON_CODES]
    if unknown:
        raise LabelError(f"reasons: unknown reason code {unknown[0]!r}")
    if question.kind is QuestionKind.REASONS:
        if value is not None or not reasons:
            raise LabelError("reasons: a reasons question is answered with at least one reason and no value")
        return kind, None, reasons
    if value is None:
        raise LabelError(f"value: {question.key!r} needs a value")
    allowed = {o.value for o in question.options} if question.options else set(range(question.min_value, question.max_value + 1))
    if value not in allowed:
        raise LabelError(f"value: {value} is not an answer to {question.key!r}")
    return kind, value, reasons


def label(db: Session, surveys: Mapping[str, Survey], *, survey: str, question: str, texts: Iterable[str],
          kind: str, value: int | None = None, reasons: Iterable[str] = (), user: str, now: datetime,
          reparse: bool = True, opener: CaseOpener | None = None) -> LabelResult:
    """Store how these texts answer a question (replacing an earlier label of the same text), and
    re-read the past replies with those texts when `reparse`."""
    found = surveys.get(survey)
    if found is None:
        raise LabelError(f"survey: unknown survey {survey!r}")
    try:
        target = found.question(question)
    except KeyError:
        raise LabelError(f"question: survey {survey!r} has no question {question!r}") from None
    kind, value, reasons = _checked(target, kind, value, reasons)
    examples: dict[str, str] = {}
    for text in texts:
        norm = normalise(text)
        if norm:
            examples.setdefault(norm, text)
    norms = list(examples)
    if not norms:
        raise LabelError("text: nothing to label")
    stored = []
    for norm in norms:
        row = db.scalar(select(ReplyLabel).where(ReplyLabel.survey == survey, ReplyLabel.question == question,
                                                 ReplyLabel.text_hash == text_hash(norm)))
        if row is None:
            row = ReplyLabel(survey=survey, question=question, norm_text=norm, text_hash=text_hash(norm),
                             example=examples[norm])
            db.add(row)
        row.kind, row.value, row.reasons = kind, value, list(reasons)
        row.labelled_by, row.labelled_at = user[:64], now
        stored.append(row)
    db.flush()
    changed = [answer for row in stored for answer in reparse_past(db, found, target, row, user=user, now=now)
               ] if reparse else []
    if opener is not None and changed:
        # An answer read again may now call for a case, as it would have when first stored.
        open_for_stored_answers(db, opener, answer_ids=changed)
    return LabelResult(len(stored), len(changed))


def reparse_past(db: Session, survey: Survey, question: Question, row: ReplyLabel, *, user: str,
                 now: datetime) -> list[int]:
    """Read the past replies with this label's text again; returns the answers whose reading changed
    or that the label created.

    An answer whose value or reasons change is updated, its old reading kept in a ReplyReparse
    row. An unclear reply that the label makes an answer becomes the session's answer to the
    question when it has none yet (else the later answer stands). Answers are not removed when
    a label says optout or unclear: the row records only what changed."""
    new_reasons = list(row.reasons or ())
    changed: list[int] = []
    answers = db.execute(select(Answer.id, Answer.text, Answer.value, Answer.reasons, Answer.inbound_id)
                         .where(Answer.survey == survey.key, Answer.question == question.key))
    for answer_id, text, old_value, old_reasons, inbound_id in answers.all():
        if normalise(text) != row.norm_text or row.kind != ReplyKind.ANSWER:
            continue
        if (old_value, list(old_reasons or ())) == (row.value, new_reasons):
            continue
        _audit(db, row, user, now, answer_id=answer_id, inbound_id=inbound_id,
               old=(ReplyKind.ANSWER.value, old_value, old_reasons), new=(row.kind, row.value, new_reasons))
        answer = db.get(Answer, answer_id)
        answer.value, answer.reasons = row.value, new_reasons
        changed.append(answer_id)
    if row.kind == ReplyKind.ANSWER:
        changed += _answer_unclear_replies(db, survey, question, row, user=user, now=now)
    return changed


def _answer_unclear_replies(db: Session, survey: Survey, question: Question, row: ReplyLabel, *, user: str,
                            now: datetime) -> list[int]:
    changed: list[int] = []
    candidates = db.execute(
        select(InboundMessage, SurveySession)
        .join(SurveySession, InboundMessage.session_id == SurveySession.id)
        .where(InboundMessage.parsed_kind == ReplyKind.UNCLEAR.value, SurveySession.survey == survey.key))
    for inbound, session in candidates.all():
        if normalise(inbound.text) != row.norm_text:
            continue
        answers = list(db.execute(select(Answer.inbound_id, Answer.question).where(Answer.session_id == session.id)))
        if _question_answered(survey, inbound.id, [(i or 0, q) for i, q in answers]) is not question:
            continue
        if any(q == question.key for _, q in answers):
            continue  # the session has its answer to this question already: it stands
        tags = _tags(db, session.interaction_id)
        sent = session.sent_at or inbound.received_at
        answer_id = db.execute(insert(Answer).values(
            session_id=session.id, inbound_id=inbound.id, survey=survey.key, question=question.key,
            value=row.value, reasons=list(row.reasons or ()), text=inbound.text, answered_at=inbound.received_at,
            response_seconds=max(0, int((inbound.received_at - sent).total_seconds())), msisdn=session.msisdn,
            channel=tags["channel"], outlet_code=tags["outlet_code"], region=tags["region"], city=tags["city"],
            business_type=tags["business_type"], attributes=tags["attributes"])).inserted_primary_key[0]
        _audit(db, row, user, now, answer_id=answer_id, inbound_id=inbound.id,
               old=(ReplyKind.UNCLEAR.value, None, []), new=(row.kind, row.value, list(row.reasons or ())))
        inbound.parsed_kind = row.kind
        changed.append(answer_id)
    return changed


def _tags(db: Session, interaction_id: int) -> dict:
    """The interaction's dimensions that an answer carries (as the engine tags the answers it saves;
    the web app may not import the engine's jobs, so the query is repeated here)."""
    channel, attributes, code, city, region, business = db.execute(
        select(Interaction.channel, Interaction.attributes, Outlet.code, City.name, Region.name, BusinessType.name)
        .join(Outlet, Interaction.outlet_id == Outlet.id).join(City).join(Region)
        .outerjoin(BusinessType, Interaction.business_type_id == BusinessType.id)
        .where(Interaction.id == interaction_id)).one()
    return {"channel": str(channel), "attributes": dict(attributes or {}), "outlet_code": code, "city": city,
            "region": region, "business_type": business}


def _audit(db: Session, row: ReplyLabel, user: str, now: datetime, *, answer_id: int | None,
           inbound_id: int | None, old: tuple, new: tuple) -> None:
    db.add(ReplyReparse(label_id=row.id, answer_id=answer_id, inbound_id=inbound_id,
                        old_kind=old[0], old_value=old[1], old_reasons=list(old[2] or ()),
                        new_kind=new[0], new_value=new[1], new_reasons=list(new[2] or ()),
                        reparsed_by=user[:64], reparsed_at=now))


# -- history and export --------------------------------------------------------------------------

def labels_with_counts(db: Session) -> list[tuple[ReplyLabel, int]]:
    """Every label, newest first, with how many past replies it re-read."""
    labels = list(db.scalars(select(ReplyLabel).order_by(ReplyLabel.labelled_at.desc(), ReplyLabel.id.desc())))
    counts: dict[int, int] = {}
    for label_id in db.scalars(select(ReplyReparse.label_id)):
        counts[label_id] = counts.get(label_id, 0) + 1
    return [(row, counts.get(row.id, 0)) for row in labels]


def export_labels(db: Session) -> str:
    """The labels as labelled replies in the corpus's JSONL format (training examples)."""
    lines = []
    for row in db.scalars(select(ReplyLabel).order_by(ReplyLabel.id)):
        gold: dict = {"kind": row.kind}
        if row.value is not None:
            gold["value"] = row.value
        if row.reasons:
            gold["reasons"] = list(row.reasons)
        lines.append(json.dumps({"id": f"label-{row.id}", "survey": row.survey, "question": row.question,
                                 "text": row.norm_text, "gold": gold}, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)
