"""Per-outlet scores, the export a channel lead takes away (analysis.exports writes the file)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from analysis.metrics import GroupMetrics, group_metrics
from analysis.counts import load_answer_frame, sent_counts
from survey.reports.selection import Selection


def outlet_scores(db: Session, sel: Selection) -> list[GroupMetrics]:
    """CSAT with its interval, response rate and top reasons per outlet in the selection, by code."""
    frame = load_answer_frame(db, attributes=(), by_day=False, dimensions=("outlet",), **sel.window())
    if frame.total == 0:
        return []
    sent = sent_counts(db, by=("outlet",), **sel.window())
    return sorted(group_metrics(frame, ["outlet"], sent=sent), key=lambda m: m.key)
