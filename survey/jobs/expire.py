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
    sessions = list(db.scalars(select(SurveySession).where(
        SurveySession.state.in_(OPEN_STATES), SurveySession.expires_at <= now).limit(limit)))
    for session in sessions:
        handle(db, session, WindowClosed(), now=now, ctx=ctx)
    return len(sessions)
