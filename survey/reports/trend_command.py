"""What `touchpoint trends` does: the request checked field by field, the answers read from the
database or an answers CSV, the alerts computed in the configured zone, rendered as text or JSON."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from analysis.frame import AnswerFrame
from analysis.counts import interaction_counts, load_answer_frame
from analysis.queries import DIMENSIONS, Criteria
from analysis.trends import Allowance, RatioSeries, TrendAlert, TrendAlerts, dissatisfied_per_10k, trend_alerts
from channels.taxonomy import parse_channel


class TrendRequestError(ValueError):
    """An option that cannot be used; the message names it."""


@dataclass(frozen=True)
class TrendRequest:
    """The command's options, checked."""

    by: tuple[str, ...]
    channels: tuple[str, ...]
    scope: tuple[str, ...] | None
    end: datetime | None  # exclusive end of the short window (a local month start); None: after the latest answer
    baseline_months: int
    long_months: int
    min_n: int
    alpha: float
    survey: str
    zone: tzinfo

    @classmethod
    def parse(cls, *, by: str, channels: Sequence[str], outlets: str, month: str | None, baseline_months: int,
              long_months: int, min_n: int, alpha: float, survey: str, zone: tzinfo,
              now: datetime | None) -> TrendRequest:
        """From the command line; `now` picks the last ended month when no --month is given (None:
        leave it to the data, as for a CSV)."""
        columns = tuple(dict.fromkeys(c.strip() for c in by.split(",") if c.strip()))
        codes = []
        for text in (part for item in channels for part in item.split(",") if part.strip()):
            channel = parse_channel(text)
            if channel is None:
                raise TrendRequestError(f"--channel: unknown channel {text.strip()!r}")
            codes.append(channel.value)
        if month is not None:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
                raise TrendRequestError(f"--month: {month!r} is not YYYY-MM")
            year, number = int(month[:4]), int(month[5:])
            end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
        elif now is not None:
            local = now.astimezone(zone)
            end = datetime(local.year, local.month, 1, tzinfo=zone)
        else:
            end = None
        scope = tuple(c.strip() for c in outlets.split(",") if c.strip()) or None
        return cls(columns, tuple(dict.fromkeys(codes)), scope, end, baseline_months, long_months, min_n, alpha,
                   survey, zone)

    @property
    def since(self) -> datetime | None:
        """Start of the first baseline month (None: no end, so no limit)."""
        if self.end is None:
            return None
        local = self.end.astimezone(self.zone)
        index = local.year * 12 + local.month - 1 - (self.baseline_months + self.long_months)
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=self.zone)


def _database_frame(db: Session, request: TrendRequest) -> AnswerFrame:
    return load_answer_frame(
        db, survey=request.survey, scope=request.scope, since=request.since, until=request.end,
        criteria=Criteria(channels=request.channels), dimensions=[d for d in DIMENSIONS if d in request.by],
        attributes=[b for b in request.by if b not in DIMENSIONS], reasons=False, by_day=True,
        tz=request.zone)


def _only(frame: AnswerFrame, column: str, values: Sequence[str] | None) -> AnswerFrame:
    """The rows whose `column` is one of `values` (None or empty: all)."""
    if not values:
        return frame
    factor = frame.columns[column]
    return frame.take(np.isin(factor.levels[factor.codes], list(values)))


def _csv_frame(path: Path, request: TrendRequest) -> tuple[AnswerFrame, list]:
    # analysis/ brings numpy and scipy; the CSV reader is its own.
    from analysis.answers_csv import AnswersCsvError, read_answers_csv

    try:
        read = read_answers_csv(path)
    except AnswersCsvError as exc:
        raise TrendRequestError(f"--answers: {path}: {exc}") from exc
    frame = _only(_only(read.frame, "channel", request.channels), "outlet", request.scope)
    return frame, list(read.errors)


def run_trends(request: TrendRequest, *, db: Session | None = None, answers: Path | None = None,
               as_json: bool = False) -> tuple[str, list]:
    """The alerts over the database (db) or an answers CSV, rendered; and the CSV's bad rows."""
    frame, errors = _csv_frame(answers, request) if answers is not None else (_database_frame(db, request), [])
    missing = [b for b in request.by if b not in frame.columns]
    if missing:
        raise TrendRequestError(f"--by: no column {missing[0]!r} (have: {', '.join(frame.columns)})")
    if frame.total == 0:
        return (json.dumps({"by": list(request.by), "groups": []}) if as_json
                else "no answers in the months compared"), errors
    found = trend_alerts(frame, list(request.by), zone=request.zone, end=request.end,
                         long_months=request.long_months, baseline_months=request.baseline_months,
                         alpha=request.alpha, min_n=request.min_n)
    per_10k = None
    if db is not None and all(b in DIMENSIONS for b in request.by):
        counts = interaction_counts(db, by=request.by, scope=request.scope, since=request.since,
                                    until=request.end, criteria=Criteria(channels=request.channels),
                                    tz=request.zone)
        per_10k = dissatisfied_per_10k(frame, counts, list(request.by), zone=request.zone)
    render = trends_json if as_json else trends_text
    return render(request.by, found, per_10k), errors


def _alert_dict(by: Sequence[str], a: TrendAlert) -> dict:
    return {"group": a.group, "key": dict(zip(by, a.key)), "window": a.window, "direction": a.direction,
            "n_recent": a.n_recent, "n_baseline": a.n_baseline, "recent_rate": _json_num(a.recent_rate),
            "baseline_rate": _json_num(a.baseline_rate), "change": _json_num(a.change), "se": _json_num(a.se),
            "z": _json_num(a.z), "p": _json_num(a.p), "q": _json_num(a.q), "alert": a.alert, "improved": a.improved}


def _json_num(v: float) -> float | None:
    return round(float(v), 6) if math.isfinite(v) else None


def _name(key: tuple[str, ...]) -> str:
    return " / ".join(key) if key else "all"


def trends_json(by: Sequence[str], found: TrendAlerts, per_10k: Sequence[RatioSeries] | None) -> str:
    """The windows and allowance, the deteriorated and improved windows, every group's windows, and
    the per-10,000 series (null from a CSV, which has no interactions)."""
    out = {"by": list(by), "windows": {"baseline": found.baseline, "long": found.long, "short": found.short,
                                       "short_baseline": found.short_baseline},
           "allowance": {"tau": found.allowance.tau, "groups": found.allowance.groups,
                         "estimated": found.allowance.estimated},
           "alpha": found.alpha, "min_n": found.min_n,
           "deteriorated": [_alert_dict(by, a) for a in found.deteriorated()],
           "improved": [_alert_dict(by, a) for a in found.improved()],
           "groups": [_alert_dict(by, a) for a in found.alerts],
           "dissatisfied_per_10k": None if per_10k is None else [
               {"group": _name(s.key), "key": dict(zip(by, s.key)),
                "periods": [{"period": p, "dissatisfied": d, "interactions": m, "per_10k": round(r, 2)}
                            for p, d, m, r in zip(s.periods, s.dissatisfied, s.interactions, s.per_10k)]}
               for s in per_10k]}
    return json.dumps(out, ensure_ascii=False, indent=2)


def _allowance_text(a: Allowance) -> str:
    if not a.estimated:
        return f"month-to-month swing allowed for: {a.tau * 100:.2f} points (sd, given)"
    if not a.groups:
        return "month-to-month swing: not estimable (no group has two months before the windows), sampling error only"
    return f"month-to-month swing allowed for: {a.tau * 100:.2f} points (sd, estimated from {a.groups} groups)"


def trends_text(by: Sequence[str], found: TrendAlerts, per_10k: Sequence[RatioSeries] | None) -> str:
    """The windows and allowance, then the deteriorated and the improved groups apart."""
    a = found.allowance
    def months(span: tuple[str, str]) -> str:
        return span[0][:7] if span[0] == span[1] else f"{span[0][:7]}..{span[1][:7]}"

    lines = [f"trends by {','.join(by) or 'all'}: short window {months(found.short)} against "
             f"{months(found.short_baseline)}, long window {months(found.long)} against {months(found.baseline)}",
             _allowance_text(a) + f"; FDR {found.alpha:g} per direction; windows under {found.min_n} answers untested"]
    tested = sum(math.isfinite(x.p) for x in found.alerts)
    for title, items in (("deteriorated", found.deteriorated()), ("improved", found.improved())):
        lines.append(f"\n{title}: {len({x.key for x in items})} groups ({tested} group windows tested)")
        for x in items:
            lines.append(f"  {x.group:<30} {x.window:<5} {x.baseline_rate:7.1%} -> {x.recent_rate:7.1%} "
                         f"({x.change * 100:+.1f} +- {x.se * 100:.1f} points, n {x.n_baseline} / {x.n_recent}, "
                         f"q {x.q:.3g})")
    if per_10k is None:
        lines.append("\ndissatisfied per 10,000 interactions: needs the interactions (from the database)")
    else:
        lines.append("\ndissatisfied per 10,000 interactions:")
        for s in per_10k:
            cells = "  ".join(f"{p[:7]} {r:.1f}" for p, r in zip(s.periods, s.per_10k))
            lines.append(f"  {_name(s.key):<30} {cells}")
    return "\n".join(lines)
