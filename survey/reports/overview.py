"""The overview: responses, response rate, CSAT, NPS, dissatisfied per 10,000 interactions and the
SMS cost per answered survey, each against the previous period of equal length, overall and by channel."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from analysis.counts import interaction_totals, latest_interactions, session_counts, value_counts
from analysis.queries import SessionCounts
from analysis.stats import nps, wilson
from channels.phones import mask_msisdn
from survey.reports.labels import DECISION_LABELS, channel_label
from survey.reports.selection import Selection
from survey.reports.tables import Table

CSAT = ("csat-default", "satisfaction")  # reference surveys: survey/definitions/*.yaml
NPS = ("nps-default", "recommend")
CURRENT, PREVIOUS = 1, 0  # window indexes over the edges (previous start, start, end)


@dataclass(frozen=True)
class Estimate:
    """A figure of one period with the n it rests on; value None when n is 0."""

    value: float | None
    n: int
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Kpi:
    """One figure in this period and the previous one."""

    key: str
    label: str
    kind: str  # count | share | nps | per_10k | ratio: how the page formats it
    current: Estimate
    previous: Estimate

    @property
    def change(self) -> float | None:
        """This period's value minus the previous period's (None when either has no data)."""
        if self.current.value is None or self.previous.value is None:
            return None
        return self.current.value - self.previous.value


@dataclass(frozen=True)
class ChannelKpis:
    """The figures of one channel."""

    channel: str
    label: str
    kpis: tuple[Kpi, ...]

    def get(self, key: str) -> Kpi | None:
        """The figure named key, if this channel has it."""
        return next((k for k in self.kpis if k.key == key), None)


@dataclass(frozen=True)
class Overview:
    """The overview of one selection."""

    start: date
    end: date
    previous_start: date
    previous_end: date
    kpis: tuple[Kpi, ...]
    by_channel: tuple[ChannelKpis, ...]
    nps_used: bool

    def get(self, key: str) -> Kpi | None:
        """The figure named key (NPS is absent where no NPS survey ran)."""
        return next((k for k in self.kpis if k.key == key), None)


def _share(x: int, n: int, *, scale: float = 1.0) -> Estimate:
    if n == 0:
        return Estimate(None, 0)
    ci = wilson(x, n)
    return Estimate(float(ci.estimate) * scale, n, float(ci.low) * scale, float(ci.high) * scale)


@dataclass(frozen=True)
class _Counts:
    """What one group counted in one window."""

    csat: Mapping[int, int]
    nps: Mapping[int, int]
    sessions: SessionCounts
    interactions: int


def _estimates(c: _Counts) -> dict[str, Estimate]:
    csat_n = sum(c.csat.values())
    nps_n = sum(c.nps.values())
    satisfied = c.csat.get(1, 0) + c.csat.get(2, 0)
    dissatisfied = c.csat.get(4, 0) + c.csat.get(5, 0)
    out = {
        "responses": Estimate(float(csat_n + nps_n), csat_n + nps_n),
        "response_rate": _share(c.sessions.answered, c.sessions.sent),
        "csat": _share(satisfied, csat_n),
        "dissatisfied_per_10k": _share(dissatisfied, c.interactions, scale=10_000),
        "segments_per_response": Estimate(c.sessions.segments / c.sessions.answered if c.sessions.answered else None,
                                          c.sessions.answered),
    }
    if nps_n:
        r = nps([c.nps.get(v, 0) for v in range(11)])
        out["nps"] = Estimate(r.nps, r.n, r.low, r.high)
    else:
        out["nps"] = Estimate(None, 0)
    return out


KPIS = (  # key, label, kind
    ("responses", "有效回复", "count"),
    ("response_rate", "回复率", "share"),
    ("csat", "满意度（前两项）", "share"),
    ("nps", "净推荐值 NPS", "nps"),
    ("dissatisfied_per_10k", "万人不满意数", "per_10k"),
    ("segments_per_response", "每份回复的计费短信条数", "ratio"),
)


def _kpis(current: _Counts, previous: _Counts, *, with_nps: bool) -> tuple[Kpi, ...]:
    now, before = _estimates(current), _estimates(previous)
    return tuple(Kpi(key, label, kind, now[key], before[key]) for key, label, kind in KPIS
                 if key != "nps" or with_nps)


def overview(db: Session, sel: Selection) -> Overview:
    """The overview of a selection and the previous period of equal length, overall and by channel."""
    edges = [sel.previous_since, sel.since, sel.until]
    scoped = {"scope": sel.scope, "criteria": sel.criteria, "edges": edges, "by": ("channel",)}
    csat = value_counts(db, survey=CSAT[0], question=CSAT[1], **scoped)
    nps_counts = value_counts(db, survey=NPS[0], question=NPS[1], **scoped)
    sessions = session_counts(db, scored=(CSAT, NPS), **scoped)
    interactions = interaction_totals(db, **scoped)
    channels = sorted({key[1] for table in (csat, nps_counts, sessions, interactions) for key in table})

    def counts(window: int, channel: str | None) -> _Counts:
        def pick(table):
            return [v for k, v in table.items() if k[0] == window and (channel is None or k[1] == channel)]

        def add_values(maps) -> dict[int, int]:
            out: dict[int, int] = {}
            for m in maps:
                for value, n in m.items():
                    out[value] = out.get(value, 0) + n
            return out

        s = pick(sessions)
        return _Counts(add_values(pick(csat)), add_values(pick(nps_counts)),
                       SessionCounts(sum(x.sent for x in s), sum(x.answered for x in s), sum(x.segments for x in s)),
                       sum(pick(interactions)))

    with_nps = bool(nps_counts)
    previous = sel.filter.previous
    return Overview(
        sel.filter.start, sel.filter.end, previous.start, previous.end,
        _kpis(counts(CURRENT, None), counts(PREVIOUS, None), with_nps=with_nps),
        tuple(ChannelKpis(ch, channel_label(ch), _kpis(counts(CURRENT, ch), counts(PREVIOUS, ch), with_nps=with_nps))
              for ch in channels),
        with_nps,
    )


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


KPI_HEADER = ("渠道", "指标", "本期", "下限95%", "上限95%", "n", "上期", "上期n", "变化")


def overview_table(report: Overview) -> Table:
    """Every figure overall and by channel, with its interval, n and change, as one table."""
    def rows():
        for label, kpis in [("全部", report.kpis), *((c.label, c.kpis) for c in report.by_channel)]:
            for k in kpis:
                yield (label, k.label, _r(k.current.value), _r(k.current.low), _r(k.current.high), k.current.n,
                       _r(k.previous.value), k.previous.n, _r(k.change))
    return Table(f"overview-{report.start}_{report.end}", "概览", KPI_HEADER, rows())


@dataclass(frozen=True)
class RecentInteraction:
    """An interaction just received, as the overview lists it: local time, masked phone."""

    ended_at: datetime
    channel: str
    outlet: str
    business_type: str
    phone: str
    decision: str


def recent_interactions(db: Session, sel: Selection, *, limit: int = 20) -> tuple[RecentInteraction, ...]:
    """The latest interactions received in the selection, so one can watch data arrive."""
    return tuple(RecentInteraction(r.ended_at.astimezone(sel.tz), channel_label(r.channel), f"{r.outlet} {r.outlet_name}",
                                   r.business_type or "", mask_msisdn(r.msisdn),
                                   DECISION_LABELS.get(r.decision, r.decision) if r.decision else "待评估")
                 for r in latest_interactions(db, limit=limit, **sel.window()))
