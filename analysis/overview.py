"""What the home page shows: counts along the flow of data, and the latest interactions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.models import Interaction, Outlet
from channels.phones import mask_msisdn
from survey.models import Answer, InboundMessage, OutboundMessage, SurveySession


@dataclass(frozen=True)
class RecentInteraction:
    ended_at: datetime
    channel: str
    outlet: str
    masked_msisdn: str
    decision: str | None


@dataclass(frozen=True)
class Overview:
    outlets: int
    interactions_by_channel: dict[str, int]
    sessions_by_state: dict[str, int]
    outbound: int
    inbound: int
    answers: int
    recent: tuple[RecentInteraction, ...]


def overview(db: Session, *, recent: int = 20) -> Overview:
    """Counts of every table on the flow, and the latest interactions with masked numbers."""
    by_channel = dict(db.execute(select(Interaction.channel, func.count()).group_by(Interaction.channel)).all())
    by_state = dict(db.execute(select(SurveySession.state, func.count()).group_by(SurveySession.state)).all())
    latest = db.execute(
        select(Interaction.ended_at, Interaction.channel, Outlet.name, Interaction.msisdn, Interaction.decision)
        .join(Outlet).order_by(Interaction.ended_at.desc()).limit(recent)
    ).all()
    return Overview(
        outlets=db.scalar(select(func.count()).select_from(Outlet)) or 0,
        interactions_by_channel={str(k): v for k, v in by_channel.items()},
        sessions_by_state={str(k): v for k, v in by_state.items()},
        outbound=db.scalar(select(func.count()).select_from(OutboundMessage)) or 0,
        inbound=db.scalar(select(func.count()).select_from(InboundMessage)) or 0,
        answers=db.scalar(select(func.count()).select_from(Answer)) or 0,
        recent=tuple(RecentInteraction(e, str(c), o, mask_msisdn(m), d) for e, c, o, m, d in latest),
    )
