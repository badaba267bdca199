"""The expire job: sessions whose reply window (or survey end) has passed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from survey.jobs.steps import Context, handle
from survey.machine import WindowClosed
from survey.models import SurveySession
from survey.states import OPEN_STATES


def expire_due(db, *, now: datetime, ctx: Context, limit: int = 1000) -> int:
    """Close sessions whose window has passed; returns how many."""
    # A session another worker has locked (its reply being handled) is left for the next run.
    sessions = list(db.scalars(select(SurveySession).where(
        SurveySession.state.in_(OPEN_STATES), SurveySession.expires_at <= now).limit(limit)
        .with_for_update(skip_locked=True)))
    for session in sessions:
        handle(db, session, WindowClosed(), now=now, ctx=ctx)
    return len(sessions)
