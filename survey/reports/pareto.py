"""Reason Pareto: which reasons customers name, most named first, with the cumulative share."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from analysis.frame import group_rows, reason_table
from analysis.counts import load_answer_frame
from survey.reports.labels import reason_label
from survey.reports.selection import Selection
from survey.reports.tables import Table


@dataclass(frozen=True)
class ParetoRow:
    """One reason: answers naming it, its share of all mentions and of answers giving a reason."""

    code: str
    label: str
    count: int
    share: float  # of all reason mentions
    cumulative: float
    of_answers: float  # of the answers that gave any reason (one answer may name several)


@dataclass(frozen=True)
class Pareto:
    """The reasons of a selection, most named first."""

    rows: tuple[ParetoRow, ...]
    responses: int  # scored answers in the selection
    with_reason: int  # of which named at least one reason
    mentions: int


def pareto(db: Session, sel: Selection) -> Pareto:
    """Reason counts over the selection (reasons of the scored answer and of its reason question)."""
    frame = load_answer_frame(db, attributes=(), by_day=False, dimensions=(), **sel.window())
    table, with_reason = reason_table(frame, group_rows(frame, []))
    counts = table[0] if len(table) else []
    answered = int(with_reason[0]) if len(with_reason) else 0
    mentions = int(sum(counts))
    order = sorted(((int(c), code) for code, c in zip(frame.reason_codes, counts) if c > 0), key=lambda t: -t[0])
    rows, running = [], 0
    for count, code in order:
        running += count
        rows.append(ParetoRow(code, reason_label(code), count, count / mentions, running / mentions,
                              count / answered if answered else 0.0))
    return Pareto(tuple(rows), frame.total, answered, mentions)


def pareto_table(p: Pareto, sel: Selection) -> Table:
    """The Pareto as a download."""
    rows = ((r.label, r.count, round(r.share, 4), round(r.cumulative, 4), round(r.of_answers, 4), p.with_reason)
            for r in p.rows)
    return Table(f"reasons-{sel.filter.start}_{sel.filter.end}", "原因帕累托",
                 ("原因", "提及次数", "占提及", "累计占比", "占给出原因的答复", "n（给出原因的答复）"), rows)
